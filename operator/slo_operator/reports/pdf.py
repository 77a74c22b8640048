"""The report as a PDF: a summary table, then per SLO its numbers, two charts and what to do.

Charts are drawn with matplotlib (Agg, no pyplot state) and laid out with reportlab; text uses the DejaVu
Sans fonts matplotlib ships, so every character of the report (→, ≤, …) prints. Both libraries are
imported when a PDF is made, not when the package is imported.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from slo_operator.reports.schema import MonthlyReport, SLOMonthReport
from slo_operator.reports.text import (
    MAX_PERIODS,
    STATUS_TEXT,
    SUMMARY_HEADER,
    count,
    duration,
    pct,
    period_text,
    summary_rows,
    when,
)

FONT = "SLODejaVu"
FONT_BOLD = "SLODejaVu-Bold"
GREEN, RED, GREY, BLUE = "#1a7f37", "#cf222e", "#6e7781", "#0969da"
STATUS_COLOUR = {"met": GREEN, "missed": RED, "no_data": GREY}


def _register_fonts() -> None:
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fonts / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD)


def charts_png(r: SLOMonthReport, start: datetime, end: datetime, dpi: int = 150) -> bytes:
    """Budget burn-down and SLI over the month, side by side, as PNG bytes."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.4, 2.5), dpi=dpi, layout="constrained")
    burn, sli = fig.subplots(1, 2)
    for ax in (burn, sli):
        ax.set_xlim(start, end)
        ax.xaxis.set_major_locator(mdates.DayLocator(bymonthday=(1, 8, 15, 22)))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
        ax.tick_params(labelsize=7)
        ax.grid(True, color="#d0d7de", linewidth=0.5)

    burn.set_title("Error budget of the month left (%)", fontsize=8)
    if r.budget_burndown:
        times = [p.time for p in r.budget_burndown]
        values = [p.value for p in r.budget_burndown]
        burn.plot(times, values, color=BLUE, linewidth=1.2)
        burn.fill_between(times, values, 0, where=[v < 0 for v in values], color=RED, alpha=0.25,
                          interpolate=True)
        burn.axhline(0, color=RED, linewidth=0.8, linestyle="--")
        low = min(min(values), 0)
        burn.set_ylim(low - 0.05 * (100 - low), 105)
    else:
        burn.text(0.5, 0.5, "no data", ha="center", va="center", transform=burn.transAxes, color=GREY)

    objective = r.objective_percent
    sli.set_title(f"SLI over the {r.window} window vs objective (%)", fontsize=8)
    for firing in r.violations.alert_firings:
        colour = RED if firing.severity == "critical" else "#bf8700"
        sli.axvspan(firing.start, firing.end, color=colour, alpha=0.18, linewidth=0)
    plotted = [p.value for p in r.sli]
    if r.sli:
        sli.plot([p.time for p in r.sli], plotted, color=BLUE, linewidth=1.2, label="SLI")
    daily = [(d.date, d.compliance_percent) for d in r.daily if d.compliance_percent is not None]
    if daily:
        sli.plot([datetime(d.year, d.month, d.day, 12) for d, _ in daily], [v for _, v in daily],
                 linestyle="none", marker="o", markersize=2.5, color=GREY, label="day")
        plotted += [v for _, v in daily]
    if plotted:
        sli.axhline(objective, color=RED, linewidth=0.9, linestyle="--", label="objective")
        low, high = min(min(plotted), objective), max(max(plotted), objective)
        pad = max((high - low) * 0.1, 0.01)
        sli.set_ylim(low - pad, min(100 + pad, high + pad))
        sli.legend(fontsize=6, loc="lower left", frameon=False, ncols=3)
    else:
        sli.text(0.5, 0.5, "no data", ha="center", va="center", transform=sli.transAxes, color=GREY)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet

    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle("t", parent=base["Title"], fontName=FONT_BOLD, fontSize=18),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=FONT_BOLD, fontSize=13, spaceBefore=6),
        "body": ParagraphStyle("b", parent=base["BodyText"], fontName=FONT, fontSize=9, leading=12),
        "small": ParagraphStyle("s", parent=base["BodyText"], fontName=FONT, fontSize=7.5, leading=9.5,
                                textColor=GREY),
        "cell": ParagraphStyle("c", parent=base["BodyText"], fontName=FONT, fontSize=8, leading=10),
    }


def _table(rows: list[list[Any]], widths: list[float] | None = None, header: bool = True) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 8),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d7de")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        style += [("FONTNAME", (0, 0), (-1, 0), FONT_BOLD),
                  ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f6f8fa"))]
    table.setStyle(TableStyle(style))
    return table


def _p(text: str, style: Any) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(text), style)


def _slo_section(r: SLOMonthReport, report: MonthlyReport, styles: dict[str, Any]) -> list[Any]:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer

    colour = STATUS_COLOUR[r.status]
    story: list[Any] = [Paragraph(
        f'{escape(r.namespace)}/{escape(r.name)} — <font color="{colour}">{STATUS_TEXT[r.status]}</font>',
        styles["h2"])]
    if r.description:
        story.append(_p(r.description, styles["body"]))
    u = r.unit
    facts = [
        ["Service / kind", f"{r.service} — {r.kind}, {r.budgeting_method.lower()}"],
        ["Objective", f"{r.objective_percent:g}% over {r.window}"],
        ["Compliance (month)",
         f"{pct(r.compliance_percent)} — {count(r.good, u)} good of {count(r.total, u)}"],
        ["Budget of the month",
         f"{pct(r.error_budget.consumed_percent, 1)} used ({count(r.error_budget.consumed, u)}"
         f" of {count(r.error_budget.allowed, u)} allowed)"],
        [f"Budget left ({r.window} window, end)", pct(r.error_budget.window_remaining_percent_at_end, 1)],
        ["Alert firings",
         f"{r.violations.alert_firing_count} ({duration(r.violations.alert_firing_seconds)}; "
         f"from {r.violations.alert_source})"],
        ["SLI below objective", f"{r.violations.sli_below_objective_count} period(s), "
                                f"{duration(r.violations.sli_below_objective_seconds)}"],
    ]
    story.append(_table([[_p(a, styles["cell"]), _p(b, styles["cell"])] for a, b in facts],
                        [48 * mm, 122 * mm], header=False))
    story.append(Spacer(1, 2 * mm))
    png = charts_png(r, report.start, report.end)
    story.append(Image(io.BytesIO(png), width=172 * mm, height=172 * mm * 2.5 / 7.4))
    if r.worst_days:
        rows: list[list[Any]] = [["Worst day", "Compliance", "Bad", "Budget used"]]
        rows += [
            [d.date.isoformat(), pct(d.compliance_percent), count(d.bad, u),
             pct(d.budget_consumed_percent, 1)]
            for d in r.worst_days
        ]
        story += [Spacer(1, 2 * mm), _table(rows, [30 * mm, 30 * mm, 30 * mm, 30 * mm])]
    periods: list[list[Any]] = [["What", "When", "Budget used"]]
    for f in r.violations.alert_firings[:MAX_PERIODS]:
        periods.append([f"{f.alert} ({f.severity})", _p(period_text(f), styles["cell"]),
                        pct(f.budget_consumed_percent, 2)])
    for p in r.violations.sli_below_objective[:MAX_PERIODS]:
        periods.append(["SLI below objective", _p(period_text(p), styles["cell"]), ""])
    if len(periods) > 1:
        story += [Spacer(1, 2 * mm), _table(periods, [45 * mm, 100 * mm, 25 * mm])]
    for rec in r.recommendations:
        story.append(Paragraph(f"<b>{escape(rec.code)}</b> ({rec.severity}): {escape(rec.message)}",
                               styles["body"]))
    for note in r.notes:
        story.append(_p(note, styles["small"]))
    return [KeepTogether(story[:4]), *story[4:], Spacer(1, 5 * mm)]


def export_to_pdf(report: MonthlyReport, path: str | Path | None = None) -> bytes:
    """The report as PDF bytes (also written to ``path`` when given)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    _register_fonts()
    styles = _styles()
    buffer = io.BytesIO()
    title = f"SLO report {report.month}"
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=16 * mm,
        title=title, author="slo-operator", subject="Monthly SLO compliance",
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColorRGB(0.43, 0.47, 0.5)
        canvas.drawString(18 * mm, 9 * mm, f"{title} — generated {when(report.generated_at)} UTC")
        canvas.drawRightString(A4[0] - 18 * mm, 9 * mm, f"page {document.page}")
        canvas.restoreState()

    s = report.summary
    partial = "" if report.complete else f" — partial, up to {when(report.end)} UTC"
    story: list[Any] = [
        _p(title, styles["title"]),
        _p(f"{report.start.date().isoformat()} to {report.end.date().isoformat()} (UTC, end exclusive)"
           f"{partial}. Source: {report.prometheus_url}.", styles["body"]),
        Spacer(1, 3 * mm),
        Paragraph(f"<b>{s.met} of {s.slos} SLOs met</b> — {s.missed} missed, {s.no_data} without data, "
                  f"{s.alert_firings} alert firing(s).", styles["body"]),
        Spacer(1, 3 * mm),
    ]
    rows: list[list[Any]] = [SUMMARY_HEADER]
    for row, r in zip(summary_rows(report), report.slos, strict=True):
        row[4] = Paragraph(f'<font color="{STATUS_COLOUR[r.status]}">{escape(row[4])}</font>', styles["cell"])
        rows.append([_p(row[0], styles["cell"]), *row[1:]])
    story.append(_table(rows, [50 * mm, 20 * mm, 17 * mm, 21 * mm, 18 * mm, 23 * mm, 23 * mm]))
    story.append(Spacer(1, 6 * mm))
    for r in report.slos:
        story += _slo_section(r, report, styles)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    pdf = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(pdf)
    return pdf
