"""Forecast of an SLO's error budget: where the rolling window is heading, and how sure that is.

Input is the SLO's own recorded series (``slo:bad_events:rate`` and ``slo:total_events:rate``) as
hourly averages. Two things drive a budget and behave differently, so they are modelled apart:

- traffic (log scale): a seasonal profile (hour of the week with two weeks of history, else hour of
  the day) plus a level that follows regime changes and a damped trend;
- the error ratio: a seasonal baseline (hour of the day: a nightly batch that always fails a share of
  its requests is part of the rhythm, not an incident; and day of the week, ``weekday_effect``: a
  latency SLO's quiet weekend) plus a recent level shift, plus *incidents*,
  which are rare, short and heavy-tailed. A Gaussian interval (what exponential-smoothing libraries
  give) says nothing useful about them, so the future is drawn by a day-block bootstrap: each future
  day reuses the residuals of a past day, incidents included, at the frequency they happened, shrunk
  towards a prior of calm days (``CALM_PRIOR_DAYS``): one large incident in five weeks is weak evidence
  of how often such incidents happen. The level of the error ratio has *regimes* (``regimes``): the
  daily levels are split where they change beyond noise, the present level is read from the last
  hours (a change is followed within a day). A level above a past one is a degradation: each future
  keeps it for an exponential time at the rate changes were seen in the SLO's history, then returns
  to a lower past level. A level at or below every past one stays: a degradation comes back only as
  a new one, which no history dates. Within the present regime the level still wobbles by as much as
  its days did.

Every path is rolled through the SLO's rolling window together with the history that is still inside
it (old incidents leave the window on a known date), which gives the budget consumed at every future
hour; the statistics over the paths are the forecast. The horizon is one window: ``endOfWindowSLI``
is the SLI of the window that ends one window from now (the window that starts now).

Everything here is numpy on a few thousand numbers: a fit is a handful of medians, a forecast 200
paths; a model is refitted at most once per ``refit`` interval (the data are hourly), see
``ForecastCache``. With less than ``MIN_HISTORY`` hours of data the model is ``insufficient-history``
and every number is None: a made-up number is worse than none.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from slo_operator.evaluator import Array

HOUR = 3600
DAY_HOURS = 24
WEEK_HOURS = 168
MIN_HISTORY = 48  # hours with traffic before any forecast is made
WEEKLY_HISTORY = 2 * WEEK_HOURS  # hours before the hour-of-week traffic profile is used
MAX_HISTORY = 5 * WEEK_HOURS  # hours the fit reads (memory and cost bounded whatever the window)
PATHS = 200
SEASONAL = "seasonal-bootstrap"
INSUFFICIENT = "insufficient-history"
_MONDAY = 3 * DAY_HOURS  # the Unix epoch began on a Thursday: hour-of-week 0 is Monday 00:00 UTC
_TREND_DAMPING = 0.99  # per hour: a trend fades over a few days instead of running away
# Prior weight, in days, of a calm day (no incident, no noise) in the bootstrap: before it has seen the
# SLO the model believes in a week of quiet. An incident seen once in five weeks then counts as about
# once in six, and the prior fades as the history grows (it is one week against the whole pool).
CALM_PRIOR_DAYS = 7.0
# Partial pooling across the SLOs the operator forecasts (``pool_of``): the prior days are then the
# cluster's own days, drawn from all SLOs, instead of calm ones, weighed by an empirical-Bayes estimate
# of how alike the SLOs' incident loads are. At most POOL_CAP_DAYS (four times an SLO's five weeks:
# even SLOs indistinguishable in the data keep a fifth of the weight on their own history).
MIN_POOL = 3  # SLOs with a model before their days are pooled (a spread needs a few)
POOL_CAP_DAYS = 140.0
POOL_DAYS = 2048  # day blocks kept in the shared pool (memory bounded whatever the number of SLOs)
_EPS = 1e-9
# Regimes of the error ratio's level (``regimes``): a change must stand out of the day-to-day noise by
# REGIME_Z and move the level by REGIME_EFFECT of the typical error ratio (smaller moves do not matter
# to a budget; the noise of a simulated or very busy service can be near zero).
REGIME_Z = 4.0
REGIME_EFFECT = 0.2


@dataclass(frozen=True)
class History:
    """Hourly averages of the recorded rates (events per second); ``start`` is the Unix time of the first
    hour's start (a multiple of 3600). NaN: no sample in that hour."""

    start: int
    bad: Array
    total: Array

    @property
    def end(self) -> int:
        return self.start + HOUR * len(self.total)

    def tail(self, hours: int) -> History:
        hours = min(hours, len(self.total))
        cut = len(self.total) - hours
        return History(self.start + HOUR * cut, self.bad[cut:], self.total[cut:])


@dataclass(frozen=True)
class Model:
    """What a fit learnt: profiles, levels and the day blocks the paths are drawn from (bounded size)."""

    fitted_at: int  # end of the history it was fitted on (Unix seconds)
    trained_on: int  # seconds of usable history
    season: int  # 24 or 168 hours
    traffic_profile: Array  # log events/s per hour of the season
    traffic_level: float
    traffic_trend: float  # log units per hour, damped in the future
    ratio_profile: Array  # error ratio per hour of the day
    ratio_level: float  # recent shift of the error ratio from its profile
    traffic_noise: Array  # (days, 24) log residuals
    ratio_noise: Array  # (days, 24) error-ratio residuals (incidents)
    ratio_days: Array  # daily medians of the error ratio's shift from its profile (how its level moved)
    ratio_weekday: Array = field(default_factory=lambda: np.zeros(7))  # weekly rhythm of that shift
    # Regimes of the error ratio's level (``regimes``): the levels of the past ones below the present
    # one (shift units, as ``ratio_level``; what a degradation can end at) with their lengths in days,
    # and the changes seen over ``ratio_days``' days.
    regime_levels: Array = field(default_factory=lambda: np.zeros(0))
    regime_days: Array = field(default_factory=lambda: np.zeros(0))
    regime_changes: int = 0
    regime_since: int = 0  # index in ``ratio_days`` of the present regime's first whole day


@dataclass(frozen=True)
class Pool:
    """The cluster's incident climate: error-ratio residual days of every SLO with a model, and the
    variance between the SLOs' mean daily incident loads beyond what sampling explains."""

    ratio_noise: Array  # (days, 24)
    spread: float  # between-SLO variance of the mean daily load (0: the SLOs look alike)

    def prior_days(self, model: Model) -> float:
        """Weight, in days, of the pool against ``model``'s own days: the empirical-Bayes (James-Stein)
        shrinkage of its mean daily load, whose sampling variance is ``var / days`` against a spread
        between SLOs ``spread``: the prior weighs ``var / spread`` days. An SLO whose days vary wildly
        (a few big incidents) leans on the cluster; one unlike the others keeps its own history."""
        load = daily_load(model)
        within = float(np.var(load, ddof=1)) if len(load) > 1 else 0.0
        if self.spread <= 0:
            return POOL_CAP_DAYS
        return float(np.clip(within / self.spread, CALM_PRIOR_DAYS, POOL_CAP_DAYS))


def daily_load(model: Model) -> Array:
    """Error-ratio excess per past day (hours x ratio above the day's level): the incident load."""
    return np.asarray(np.sum(np.clip(model.ratio_noise, 0.0, None), axis=1))


def pool_of(models: list[Model | None], seed: int = 0) -> Pool | None:
    """The pool of ``models`` (None with fewer than MIN_POOL models of at least two days: then each SLO
    has the calm prior alone). The spread is the method-of-moments estimate: the variance of the SLOs'
    mean daily loads minus their mean sampling variance, at least 0."""
    usable = [m for m in models if m is not None and m.ratio_noise.shape[0] >= 2]
    if len(usable) < MIN_POOL:
        return None
    loads = [daily_load(m) for m in usable]
    means = np.array([float(np.mean(x)) for x in loads])
    sampling = np.array([float(np.var(x, ddof=1)) / len(x) for x in loads])
    spread = max(0.0, float(np.var(means, ddof=1)) - float(np.mean(sampling)))
    blocks = np.concatenate([m.ratio_noise for m in usable])
    if len(blocks) > POOL_DAYS:
        keep = np.random.default_rng(seed).choice(len(blocks), POOL_DAYS, replace=False)
        blocks = blocks[np.sort(keep)]
    return Pool(ratio_noise=blocks, spread=spread)


def regime_rate(model: Model) -> float:
    """Changes of the error ratio's level per day, from the SLO's own history: its count of changes over
    its days, plus half a change (Jeffreys' prior for a Poisson rate): a level that never moved in five
    weeks is not sure to stay forever, one that moved twice is expected to move again about as often."""
    return (model.regime_changes + 0.5) / max(float(len(model.ratio_days)), 1.0)


def _regime_floor(levels: Array, base: float) -> float:
    """The smallest move of the error ratio's level that counts as a change of regime."""
    typical = abs(base + float(np.median(levels))) if len(levels) else abs(base)
    return REGIME_EFFECT * max(typical, _EPS)


def regimes(levels: Array, base: float, recent: float) -> tuple[list[tuple[int, int]], bool]:
    """Segments [start, end) of the daily ``levels`` (shifts of the error ratio from its profile, whose
    mean is ``base``) whose means differ, by binary segmentation: a split is kept when the two sides
    differ by more than REGIME_Z noise units (the noise read from day-to-day differences, robustly)
    and by more than REGIME_EFFECT of the typical error ratio (a smaller move does not matter to a
    budget). Segments are at least two days long, except that the last day may start one. Also
    whether ``recent`` (the last hours' level) has already left the last segment (a change today)."""
    n = len(levels)
    if n == 0:
        return [], False
    diffs = np.diff(levels)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / math.sqrt(2) if len(diffs) else 0.0
    floor = _regime_floor(levels, base)

    def split(lo: int, hi: int) -> list[tuple[int, int]]:
        part = levels[lo:hi]
        k = np.arange(2, len(part) - 1 if hi < n else len(part))  # left side lengths (both >= 2 days)
        if not len(k):
            return [(lo, hi)]
        sums = np.cumsum(part)
        gap = np.abs(sums[k - 1] / k - (sums[-1] - sums[k - 1]) / (len(part) - k))
        # The split that explains most of the variance (least squares), if it stands out of the noise.
        explained = gap / np.sqrt(1 / k + 1 / (len(part) - k))
        explained = np.where((gap > floor) & (explained > REGIME_Z * noise), explained, -1.0)
        best = int(np.argmax(explained))
        if explained[best] < 0:
            return [(lo, hi)]
        where = lo + int(k[best])
        return split(lo, where) + split(where, hi)

    segments = split(0, n)
    last = levels[segments[-1][0]:]
    spread = noise * math.sqrt(1 + 1 / len(last))
    moved = abs(recent - float(np.mean(last)))
    return segments, moved > floor and moved > REGIME_Z * spread


@dataclass(frozen=True)
class Forecast:
    """The forecast for one SLO. Times are Unix seconds; ``interval`` is the 10th-90th percentile of the
    exhaustion time (its upper end None: some paths never exhaust the budget within the horizon)."""

    model: str
    trained_on: int | None = None  # seconds of history
    horizon_end: int | None = None
    budget_consumed: float | None = None  # median share of the budget spent at the horizon's end
    end_of_window_sli: float | None = None
    violation_probability: float | None = None  # P(the window at the horizon's end is below objective)
    exhaustion_probability: float | None = None  # P(the budget runs out at some hour of the horizon)
    exhaustion_at: int | None = None  # median exhaustion time, when more than half the paths exhaust
    interval: tuple[int | None, int | None] | None = None
    consumed_quantiles: dict[str, Array] = field(default_factory=dict)  # "p10/p50/p90" -> per hour

    @property
    def sufficient(self) -> bool:
        return self.model != INSUFFICIENT


# The forecast of every SLO without two days of recorded history: one object for all of them (a cycle
# over thousands of new SLOs held one each, and the cache one more per SLO).
NO_FORECAST = Forecast(model=INSUFFICIENT)


def hour_of_week(start: int, n: int) -> Array:
    hours = np.arange(n) + start // HOUR + _MONDAY
    return np.asarray(hours % WEEK_HOURS, dtype=np.int64)


def _profile(values: Array, index: Array, season: int) -> Array:
    """Median of ``values`` per slot of ``index`` (NaN ignored); slots never seen take the overall median."""
    out = np.full(season, np.nan)
    for slot in range(season):
        chosen = values[index == slot]
        chosen = chosen[~np.isnan(chosen)]
        if chosen.size:
            out[slot] = float(np.median(chosen))
    overall = float(np.nanmedian(values)) if np.any(~np.isnan(values)) else 0.0
    return np.where(np.isnan(out), overall, out)


def _mean_profile(values: Array, index: Array, season: int) -> Array:
    """Mean of ``values`` per slot (NaN ignored; unseen slots take the overall mean): for log traffic,
    where incidents do not pull a mean the way they pull an error ratio's."""
    keep = ~np.isnan(values)
    sums = np.bincount(index[keep], weights=values[keep], minlength=season)
    counts = np.bincount(index[keep], minlength=season)
    overall = float(np.mean(values[keep])) if np.any(keep) else 0.0
    return np.where(counts > 0, sums / np.maximum(counts, 1), overall)


def _rolling_median(values: Array, width: int) -> Array:
    """Centred rolling median ignoring NaN (edges use the part of the window that exists)."""
    pad = width // 2
    padded = np.concatenate((np.full(pad, np.nan), values, np.full(width - 1 - pad, np.nan)))
    windows = sliding_window_view(padded, width)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows: no data there
        out = np.nanmedian(windows, axis=1)
    return np.where(np.isnan(out), 0.0, out)


def _day_blocks(values: Array, start: int) -> Array:
    """Whole UTC days of ``values`` as rows of 24 hours (NaN -> 0); at most the last five weeks."""
    first = (-(start // HOUR)) % DAY_HOURS  # index of the first midnight
    days = (len(values) - first) // DAY_HOURS
    if days <= 0:
        return np.zeros((0, DAY_HOURS))
    block = values[first: first + days * DAY_HOURS].reshape(days, DAY_HOURS)
    return np.where(np.isnan(block), 0.0, block)


def _day_medians(values: Array, start: int) -> tuple[Array, Array]:
    """Median of each whole UTC day of ``values`` that has data (NaN ignored), and its weekday (0:
    Monday)."""
    first = (-(start // HOUR)) % DAY_HOURS
    days = (len(values) - first) // DAY_HOURS
    if days <= 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    block = values[first: first + days * DAY_HOURS].reshape(days, DAY_HOURS)
    keep = np.any(~np.isnan(block), axis=1)
    weekday = hour_of_week(start + first * HOUR, days * DAY_HOURS)[::DAY_HOURS] // DAY_HOURS
    if not np.any(keep):
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    return np.asarray(np.nanmedian(block[keep], axis=1)), np.asarray(weekday[keep], dtype=np.int64)


def weekday_effect(levels: Array, weekday: Array) -> Array:
    """The weekly rhythm of daily ``levels`` (7 values, Monday first): per weekday, the median of its
    days' distance from their week's median (a centred 7-day rolling median, which a change of regime
    moves as well, so a change cancels out). A latency SLO's weekend is quieter than its week: without
    this, binary segmentation would take each weekend for a regime. Zeros with fewer than three of a
    weekday's days (too few to tell a rhythm from a change)."""
    effect = np.zeros(7)
    if len(levels) < 3 * 7:
        return effect
    distance = levels - _rolling_median(levels, 7)
    for day in range(7):
        chosen = distance[weekday == day]
        if len(chosen) >= 3:
            effect[day] = float(np.median(chosen))
    return effect


def fit(history: History) -> Model | None:
    """The model of ``history`` (hourly, newest last), or None when it is too short to say anything."""
    history = history.tail(MAX_HISTORY)
    total, bad = history.total, history.bad
    seen = ~np.isnan(total) & (total > 0)
    if int(np.sum(seen)) < MIN_HISTORY:
        return None
    n = len(total)
    season = WEEK_HOURS if int(np.sum(seen)) >= WEEKLY_HISTORY else DAY_HOURS
    how = hour_of_week(history.start, n)
    slot = how if season == WEEK_HOURS else how % DAY_HOURS
    hod = how % DAY_HOURS

    log_traffic = np.where(seen, np.log(np.where(seen, total, 1.0)), np.nan)
    traffic_profile = _mean_profile(log_traffic, slot, season)
    deviation = log_traffic - traffic_profile[slot]
    level = _rolling_median(deviation, DAY_HOURS)
    recent = deviation[-DAY_HOURS:]
    traffic_level = float(np.nanmedian(recent)) if np.any(~np.isnan(recent)) else 0.0
    # Trend: how the daily level moved over the last week (a least-squares slope, per hour).
    span = min(WEEK_HOURS, n)
    xs = np.arange(span, dtype=np.float64)
    ys = level[-span:]
    slope = float(np.polyfit(xs, ys, 1)[0]) if span >= 2 * DAY_HOURS else 0.0
    traffic_noise = _day_blocks(np.where(seen, deviation - level, np.nan), history.start)

    ratio = np.where(seen, np.where(np.isnan(bad), 0.0, bad) / np.where(seen, total, 1.0), np.nan)
    ratio = np.clip(ratio, 0.0, 1.0)
    last_week = slice(max(0, n - WEEK_HOURS), n)
    ratio_profile = _profile(ratio[last_week], hod[last_week], DAY_HOURS)
    shift = ratio - ratio_profile[hod]
    ratio_local = _rolling_median(shift, DAY_HOURS)
    ratio_noise = _day_blocks(np.where(seen, shift - ratio_local, np.nan), history.start)
    ratio_days, weekday = _day_medians(np.where(seen, shift, np.nan), history.start)
    # Levels are read without the week's rhythm (``weekday_effect``), which the paths add back per day.
    rhythm = weekday_effect(ratio_days, weekday)
    ratio_days = ratio_days - rhythm[weekday]
    recent_shift = (shift - rhythm[how // DAY_HOURS])[-DAY_HOURS // 2:]
    ratio_level = float(np.nanmedian(recent_shift)) if np.any(~np.isnan(recent_shift)) else 0.0
    base = float(np.mean(ratio_profile))
    segments, moved = regimes(ratio_days, base, ratio_level)
    floor = _regime_floor(ratio_days, base)
    # The levels the present one can end at: past regimes' *below* it (by more than the floor). A level
    # above today's is a degradation; it comes back only as a new one, whose date no history tells (the
    # model forecasts none for an SLO that never had one, and so none for one that had one and got
    # over it); a present degradation is expected to end as the SLO's past levels ended, at a lower one.
    past = [(a, b) for a, b in (segments if moved else segments[:-1])
            if float(np.mean(ratio_days[a:b])) < ratio_level - floor]
    regime_levels = np.array([float(np.mean(ratio_days[a:b])) for a, b in past])
    regime_days = np.array([float(b - a) for a, b in past])
    changes = max(0, len(segments) - 1) + int(moved)
    return Model(
        fitted_at=history.end,
        trained_on=int(np.sum(seen)) * HOUR,
        season=season,
        traffic_profile=traffic_profile,
        traffic_level=traffic_level,
        traffic_trend=slope,
        ratio_profile=ratio_profile,
        ratio_level=ratio_level,
        traffic_noise=traffic_noise,
        ratio_noise=ratio_noise,
        ratio_days=ratio_days,
        ratio_weekday=rhythm,
        regime_levels=regime_levels,
        regime_days=regime_days,
        regime_changes=changes,
        regime_since=len(ratio_days) if moved or not segments else segments[-1][0],
    )


def sample_paths(model: Model, start: int, hours: int, paths: int = PATHS, seed: int = 0,
                 pool: Pool | None = None) -> tuple[Array, Array]:
    """(bad, total) events per second for ``hours`` from ``start``: arrays of shape (paths, hours).
    ``pool``: the prior days are the cluster's (see ``Pool``), else calm ones."""
    rng = np.random.default_rng(seed)
    how = hour_of_week(start, hours)
    slot = how if model.season == WEEK_HOURS else how % DAY_HOURS
    hod = how % DAY_HOURS
    ahead = np.arange(1, hours + 1, dtype=np.float64)
    damped = (1 - _TREND_DAMPING ** ahead) / (1 - _TREND_DAMPING) * _TREND_DAMPING
    log_mean = model.traffic_profile[slot] + model.traffic_level + model.traffic_trend * damped
    # Within the present regime the level wobbles: each path moves it by the difference of two of the
    # regime's daily levels drawn at random (as often down as up; a steady level adds nothing).
    levels = model.ratio_days[model.regime_since:]
    drift = np.zeros(paths)
    if len(levels) > 1:
        drift = levels[rng.integers(0, len(levels), paths)] - levels[rng.integers(0, len(levels), paths)]
    level = np.full((paths, hours), model.ratio_level) + drift[:, None]
    if len(model.regime_levels):
        # The present level lasts an exponential time at the rate changes were seen (``regime_rate``),
        # then a lower past regime's level returns (drawn by how long each lasted).
        rate = regime_rate(model) / DAY_HOURS
        ends = rng.exponential(1.0 / max(rate, _EPS), paths)
        after = rng.choice(model.regime_levels, size=paths, p=model.regime_days / np.sum(model.regime_days))
        switched = np.arange(hours)[None, :] >= ends[:, None]
        level = np.where(switched, after[:, None] + drift[:, None], level)
    ratio_mean = np.clip(model.ratio_profile[hod][None, :] + model.ratio_weekday[how // DAY_HOURS][None, :]
                         + level, 0.0, 1.0)
    days = model.traffic_noise.shape[0]
    if days:
        # Day blocks: future hour k takes the residual of the same hour of day on a drawn past day.
        day_of = (np.arange(hours) + (start // HOUR) % DAY_HOURS) // DAY_HOURS
        # A Bayesian bootstrap: each path first weighs the past days at random (Dirichlet), then draws
        # from them. A few weeks say little about how often incidents happen; plain resampling would
        # take that frequency as known and be too sure of itself. Index ``days`` is the prior: a calm
        # day (zero residuals) with a Dirichlet weight of CALM_PRIOR_DAYS or, with a pool, a day of
        # any SLO of the cluster with the pool's empirical-Bayes weight.
        prior = CALM_PRIOR_DAYS if pool is None else pool.prior_days(model)
        alpha = np.concatenate((np.ones(days), [prior]))
        weights = np.cumsum(rng.dirichlet(alpha, size=paths), axis=1)[:, :days]
        uniform = rng.random((paths, int(day_of[-1]) + 1))
        drawn = np.sum(uniform[:, :, None] > weights[:, None, :], axis=2)  # (paths, future days)
        chosen = drawn[:, day_of]
        calm = np.zeros((1, DAY_HOURS))
        traffic_noise = np.concatenate((model.traffic_noise, calm))[chosen, hod]
        ratio_noise = np.concatenate((model.ratio_noise, calm))[chosen, hod]
        if pool is not None and len(pool.ratio_noise):
            cluster = rng.integers(0, len(pool.ratio_noise), size=drawn.shape)[:, day_of]
            ratio_noise = np.where(chosen == days, pool.ratio_noise[cluster, hod], ratio_noise)
    else:
        traffic_noise = np.zeros((paths, hours))
        ratio_noise = np.zeros((paths, hours))
    total = np.exp(log_mean + traffic_noise)
    bad = total * np.clip(ratio_mean + ratio_noise, 0.0, 1.0)
    return bad, total


def consumed(known_bad: Array, known_total: Array, bad: Array, total: Array, window_hours: int,
             error_budget: float) -> Array:
    """Share of the budget the rolling window spends at the end of each future hour, per path: the
    last ``window_hours`` known hours followed by each path (events weighted by traffic). The known
    part is the same for every path: its sums are computed once."""
    hours = bad.shape[1]

    def known_part(values: Array) -> Array:
        """Sum of the known hours still inside the window at the end of future hour k (k < hours)."""
        known = np.where(np.isnan(values), 0.0, values)[-window_hours:]
        known = np.concatenate((np.zeros(window_hours - len(known)), known))
        suffix = np.concatenate((np.cumsum(known[::-1])[::-1], [0.0]))  # suffix[i] = sum(known[i:])
        inside = np.arange(1, hours + 1)  # hours of the window taken by the future at the end of k
        return np.where(inside < window_hours, suffix[np.minimum(inside, window_hours)], 0.0)

    def future_part(values: Array) -> Array:
        sums = np.cumsum(values, axis=1)
        if hours > window_hours:  # only the last window_hours future hours are inside
            sums[:, window_hours:] -= sums[:, :-window_hours].copy()
        return sums

    window_bad = future_part(bad) + known_part(known_bad)
    window_total = future_part(total) + known_part(known_total)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = window_bad / (window_total * error_budget)
    return np.where(window_total > _EPS, share, 0.0)


def forecast(model: Model | None, history: History, objective: float, window: int,
             paths: int = PATHS, seed: int = 0, pool: Pool | None = None) -> Forecast:
    """The forecast over one window from the end of ``history`` (which holds at least the last window
    when there is one; older hours are not needed); ``pool``: the cluster's, see ``pool_of``."""
    if model is None:
        return NO_FORECAST
    budget = 1.0 - objective
    hours = max(1, math.ceil(window / HOUR))
    start = history.end
    bad, total = sample_paths(model, start, hours, paths, seed, pool)
    share = consumed(history.bad, history.total, bad, total, hours, budget)
    end = share[:, -1]
    window_bad = np.sum(bad, axis=1)
    window_total = np.sum(total, axis=1)
    sli = 1.0 - float(np.mean(window_bad / np.maximum(window_total, _EPS)))
    over = share >= 1.0
    exhausts = np.any(over, axis=1)
    first = np.where(exhausts, np.argmax(over, axis=1), hours)
    # Exhaustion times per path (the end of the first hour at or over budget); never: past the horizon.
    times = np.sort(start + HOUR * (first + 1))
    never = start + HOUR * (hours + 1)

    def at(q: float) -> int | None:
        value = int(times[min(paths - 1, int(q * paths))])
        return None if value >= never else value

    return Forecast(
        model=SEASONAL,
        trained_on=model.trained_on,
        horizon_end=start + HOUR * hours,
        budget_consumed=float(np.median(end)),
        end_of_window_sli=sli,
        violation_probability=float(np.mean(end > 1.0)),
        exhaustion_probability=float(np.mean(exhausts)),
        exhaustion_at=at(0.5),
        interval=(at(0.1), at(0.9)) if at(0.1) is not None else None,
        consumed_quantiles=dict(zip(("p10", "p50", "p90"),
                                    np.quantile(share, [0.1, 0.5, 0.9], axis=0), strict=True)),
    )


@dataclass
class ForecastCache:
    """Models and forecasts per SLO key, recomputed at most once per ``refit`` seconds of data (the
    hourly series change once an hour): a status refresh reads the cached forecast. Entries of SLOs not
    seen in a refresh are dropped, so memory follows the number of SLOs."""

    refit: int = HOUR
    entries: dict[str, tuple[int, Forecast]] = field(default_factory=dict)
    models: dict[str, tuple[int, Model | None]] = field(default_factory=dict)
    fits: int = 0

    def model(self, key: str, history: History | None) -> Model | None:
        """The SLO's model, refitted when its history gained ``refit`` seconds (None without history,
        and nothing kept for it)."""
        cached = self.models.get(key)
        end = 0 if history is None else history.end
        if cached is not None and end - cached[0] < self.refit:
            return cached[1]
        if history is None:
            return None
        self.fits += 1
        model = fit(history)
        self.models[key] = (end, model)
        return model

    def get(self, key: str, history: History | None, objective: float, window: int,
            pool: Pool | None = None) -> Forecast:
        cached = self.entries.get(key)
        end = 0 if history is None else history.end
        if cached is not None and end - cached[0] < self.refit:
            return cached[1]
        if history is None:
            return NO_FORECAST  # shared, and not kept per SLO
        result = forecast(self.model(key, history), history.tail(math.ceil(window / HOUR)), objective,
                          window, seed=_seed(key), pool=pool)
        self.entries[key] = (end, result)
        return result

    def keep_only(self, keys: set[str]) -> None:
        for key in set(self.entries) - keys:
            del self.entries[key]
        for key in set(self.models) - keys:
            del self.models[key]


def _seed(key: str) -> int:
    """A stable seed per SLO: the same data give the same forecast (no status flapping)."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key)) % (2**32)


def naive_consumed(history: History, objective: float, window: int, burn_hours: int = 1) -> float:
    """Today's linear extrapolation: the current burn rate (the last ``burn_hours``) held for a whole
    window spends ``burn rate`` budgets in it."""
    recent = history.tail(burn_hours)
    total = float(np.nansum(recent.total))
    bad = float(np.nansum(recent.bad))
    if total <= 0:
        return 0.0
    return bad / total / (1.0 - objective)


def hourly(times: Array, values: Array, start: int, end: int) -> Array:
    """Hourly means of samples at ``times`` over [start, end) (NaN where an hour has none)."""
    hours = (end - start) // HOUR
    index = ((times - start) // HOUR).astype(np.int64)
    keep = (index >= 0) & (index < hours) & ~np.isnan(values)
    sums = np.bincount(index[keep], weights=values[keep], minlength=hours)
    counts = np.bincount(index[keep], minlength=hours)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
