"""Human-readable numbers and the Markdown rendering of a report (pure)."""

from __future__ import annotations

from datetime import datetime

from slo_operator.reports.schema import MonthlyReport, Period, SLOMonthReport

STATUS_TEXT = {"met": "met", "missed": "MISSED", "no_data": "no data"}
MAX_PERIODS = 12


def pct(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}%"


def count(value: float | None, unit: str = "events") -> str:
    if value is None:
        return "n/a"
    if unit == "seconds":
        return duration(value)
    return f"{value:,.0f}"


def duration(seconds: float) -> str:
    """``3h 5m``, ``17d 13h 40m``, ``45s``."""
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}m" if minutes else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{secs}s"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def period_text(p: Period) -> str:
    start = ("≤ " if p.open_at_start else "") + when(p.start)
    end = when(p.end) + (" (ongoing)" if p.open_at_end else "")
    return f"{start} → {end} ({duration(p.duration_seconds)})"


def subject(report: MonthlyReport) -> str:
    s = report.summary
    parts = [f"{s.met}/{s.slos} met"]
    if s.missed:
        parts.append(f"{s.missed} missed")
    if s.no_data:
        parts.append(f"{s.no_data} without data")
    return f"SLO report {report.month}: " + ", ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_rows(report: MonthlyReport) -> list[list[str]]:
    rows = []
    for r in report.slos:
        rows.append([
            f"{r.namespace}/{r.name}",
            r.kind,
            f"{r.objective_percent:g}%",
            pct(r.compliance_percent),
            STATUS_TEXT[r.status],
            pct(r.error_budget.consumed_percent, 1),
            str(r.violations.alert_firing_count),
        ])
    return rows


SUMMARY_HEADER = ["SLO", "Kind", "Objective", "Compliance", "Status", "Budget used", "Alerts fired"]


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def slo_markdown(r: SLOMonthReport) -> list[str]:
    lines = [f"## {r.namespace}/{r.name} — {STATUS_TEXT[r.status]}", ""]
    if r.description:
        lines += [r.description, ""]
    unit = r.unit
    lines += [
        f"- Service: `{r.service}`; {r.kind} SLO, {r.budgeting_method.lower()}, objective "
        f"{r.objective_percent:g}% over {r.window}",
        f"- Compliance over the month: **{pct(r.compliance_percent)}** "
        f"({count(r.good, unit)} good of {count(r.total, unit)}; {count(r.bad, unit)} bad)",
        f"- Error budget of the month: {pct(r.error_budget.consumed_percent, 1)} consumed "
        f"({count(r.error_budget.consumed, unit)} of {count(r.error_budget.allowed, unit)} allowed); "
        f"over the {r.window} window at the end: "
        f"{pct(r.error_budget.window_remaining_percent_at_end, 1)} left",
        f"- Alert firings: {r.violations.alert_firing_count} "
        f"({duration(r.violations.alert_firing_seconds)} in total; source: {r.violations.alert_source})",
        f"- SLI below objective: {r.violations.sli_below_objective_count} period(s), "
        f"{duration(r.violations.sli_below_objective_seconds)} in total",
        "",
    ]
    if r.worst_days:
        lines += ["Worst days:", ""]
        lines += _table(
            ["Day", "Compliance", "Bad", "Budget used"],
            [
                [d.date.isoformat(), pct(d.compliance_percent), count(d.bad, unit),
                 pct(d.budget_consumed_percent, 1)]
                for d in r.worst_days
            ],
        )
        lines.append("")
    if r.violations.alert_firings:
        lines += ["Alert firings:", ""]
        lines += _table(
            ["Alert", "Severity", "Period", "Budget used"],
            [[f.alert, f.severity, period_text(f), pct(f.budget_consumed_percent, 2)]
             for f in r.violations.alert_firings[:MAX_PERIODS]],
        )
        if len(r.violations.alert_firings) > MAX_PERIODS:
            lines.append(f"\n… and {len(r.violations.alert_firings) - MAX_PERIODS} more.")
        lines.append("")
    if r.violations.sli_below_objective:
        lines += ["SLI below objective:", ""]
        lines += [f"- {period_text(p)}" for p in r.violations.sli_below_objective[:MAX_PERIODS]]
        lines.append("")
    if r.cost is not None:
        lines += cost_markdown(r)
    if r.recommendations:
        lines += ["Recommendations:", ""]
        lines += [f"- **{rec.code}** ({rec.severity}): {rec.message}" for rec in r.recommendations]
        lines.append("")
    if r.notes:
        lines += [f"_Note: {note}_" for note in r.notes]
        lines.append("")
    return lines


def money(value: float | None, currency: str | None) -> str:
    return "n/a" if value is None else f"{value:,.2f} {currency or ''}".rstrip()


def cost_markdown(r: SLOMonthReport) -> list[str]:
    """The cost section: the month's spend against the budget, and the worst hours per unit."""
    assert r.cost is not None
    c = r.cost
    spend = f"- Spend in the month: **{money(c.spend, c.currency)}**"
    if c.budget is not None and c.budget_period == "month":
        spend += f" of a {money(c.budget, c.currency)} monthly budget ({pct(c.budget_used_percent, 1)})"
    elif c.budget is not None:
        spend += f" (budget: {money(c.budget, c.currency)} per {r.window} window)"
    lines = [spend, f"- Maximum cost per unit: {c.max_per_unit:g} {c.currency or ''}".rstrip(), ""]
    if c.worst_hours:
        lines += ["Worst hours (cost per unit):", ""]
        lines += _table(
            ["Hour (UTC)", "Cost per unit", "Spend"],
            [[when(h.start), "n/a" if h.per_unit is None else f"{h.per_unit:.6g}", money(h.spend, c.currency)]
             for h in c.worst_hours],
        )
        lines.append("")
    return lines


def to_markdown(report: MonthlyReport) -> str:
    """The report as Markdown: a summary table, then one section per SLO."""
    state = "" if report.complete else f" (partial: up to {when(report.end)} UTC)"
    lines = [
        f"# SLO report {report.month}{state}",
        "",
        f"{report.start.date().isoformat()} to {report.end.date().isoformat()} (UTC, end exclusive); "
        f"generated {when(report.generated_at)} UTC from {report.prometheus_url}.",
        "",
        f"**{report.summary.met} of {report.summary.slos} SLOs met**; {report.summary.missed} missed, "
        f"{report.summary.no_data} without data; {report.summary.alert_firings} alert firing(s).",
        "",
    ]
    lines += _table(SUMMARY_HEADER, summary_rows(report))
    lines.append("")
    for r in report.slos:
        lines += slo_markdown(r)
    return "\n".join(lines).rstrip() + "\n"
