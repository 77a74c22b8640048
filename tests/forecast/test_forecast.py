"""The budget forecast on series whose future is known: seasonal traffic, a nightly batch, too little data."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from slo_operator import forecast as fc

MONDAY = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())
HOUR = fc.HOUR
WINDOW = 30 * 86400
OBJECTIVE = 0.999


def series(hours: int, background: float, nightly: float = 0.0, start: int = MONDAY) -> fc.History:
    """Traffic with daily (±60%, peak at noon) and weekly (quiet weekend) seasonality; the error ratio is
    ``background``, and ``nightly`` during the batch hour 02:00-03:00 UTC."""
    t = np.arange(hours)
    hod = t % 24
    dow = (t // 24) % 7
    total = 20.0 * (1 + 0.6 * np.sin(2 * np.pi * (hod - 6) / 24)) * np.where(dow >= 5, 0.4, 1.0)
    ratio = np.where(hod == 2, nightly, background) if nightly else np.full(hours, background)
    return fc.History(start, total * ratio, total)


def true_share(history: fc.History) -> float:
    return float(np.sum(history.bad) / np.sum(history.total) / (1 - OBJECTIVE))


def test_a_seasonal_series_is_forecast_within_bounds() -> None:
    """Four weeks of a steady 0.05% error ratio: half the budget per window, no violation."""
    history = series(28 * 24, 0.0005)
    result = fc.forecast(fc.fit(history), history, OBJECTIVE, WINDOW)
    assert result.model == fc.SEASONAL
    assert result.trained_on == 28 * 24 * HOUR
    assert result.budget_consumed == pytest.approx(0.5, abs=0.02)
    assert result.end_of_window_sli == pytest.approx(0.9995, abs=0.00002)
    assert result.violation_probability == 0.0
    assert result.exhaustion_at is None and result.interval is None
    assert result.horizon_end == history.end + WINDOW
    # The traffic forecast follows the hour-of-week rhythm, weekend included.
    model = fc.fit(history)
    assert model is not None and model.season == fc.WEEK_HOURS
    _bad, total = fc.sample_paths(model, history.end, 7 * 24)
    expected = series(35 * 24, 0.0005).total[28 * 24:]
    assert np.mean(total, axis=0) == pytest.approx(expected, rel=0.02)


def test_the_nightly_batch_is_part_of_the_rhythm() -> None:
    """At noon the current burn rate is low, yet the nightly batch spends the budget every night: the
    forecast knows it (within 5% of the truth), the linear extrapolation of the burn rate does not."""
    hours = 21 * 24 + 12  # three weeks, ending at noon on a Monday
    future = series(hours + 30 * 24, 0.0002, nightly=0.06)
    history = fc.History(future.start, future.bad[:hours], future.total[:hours])
    truth = true_share(fc.History(future.start, future.bad[hours:], future.total[hours:]))
    assert truth > 1.0  # the window ends below its objective
    result = fc.forecast(fc.fit(history), history, OBJECTIVE, WINDOW)
    assert result.budget_consumed == pytest.approx(truth, rel=0.05)
    assert result.violation_probability == 1.0
    naive = fc.naive_consumed(history, OBJECTIVE, WINDOW)
    assert abs(naive - truth) > 0.5 * truth
    # The window already holds three weeks of batches: the budget runs out within days, not never.
    assert result.exhaustion_at is not None and result.interval is not None
    low, high = result.interval
    assert low is not None and high is not None
    assert history.end < low <= result.exhaustion_at <= high < history.end + 14 * 86400


def test_incidents_in_history_give_a_spread() -> None:
    """Rare incidents make some futures violate and others not: a probability strictly between 0 and 1."""
    history = series(28 * 24, 0.0006)
    bad = history.bad.copy()
    for day in (3, 11, 20):  # three one-hour incidents at 5% errors
        bad[day * 24 + 14] = history.total[day * 24 + 14] * 0.05
    history = fc.History(history.start, bad, history.total)
    result = fc.forecast(fc.fit(history), history, OBJECTIVE, WINDOW)
    assert result.violation_probability is not None
    assert 0.05 < result.violation_probability < 0.95
    p10, p90 = result.consumed_quantiles["p10"][-1], result.consumed_quantiles["p90"][-1]
    assert p10 < 1.0 < p90


def with_levels(levels: list[tuple[int, float]]) -> fc.History:
    """Five weeks of ``series`` traffic whose error ratio is ``ratio`` for ``days`` days, in turn."""
    weeks = series(35 * 24, 0.0)
    ratio = np.concatenate([np.full(days * 24, ratio) for days, ratio in levels])
    assert len(ratio) == 35 * 24
    return fc.History(weeks.start, weeks.total * ratio, weeks.total)


def test_a_regime_change_may_end_within_the_window() -> None:
    """Three weeks at 0.03% errors, then two at 0.11% (over the 0.1% budget). The level moved once in
    five weeks, so it may move again within the 30 days: in some futures the level it left returns, at
    the rate changes were seen. The probability of a violation is well under 1 and the median budget
    lies between the two levels. Five steady weeks at 0.11% leave no doubt."""
    shifted = with_levels([(21, 0.0003), (14, 0.0011)])
    model = fc.fit(shifted)
    assert model is not None and model.regime_changes == 1
    assert model.regime_levels == pytest.approx([0.0003 - 0.0011], abs=1e-5)
    result = fc.forecast(model, shifted, OBJECTIVE, WINDOW)
    assert result.violation_probability is not None and result.budget_consumed is not None
    assert 0.2 < result.violation_probability < 0.6
    assert 0.5 < result.budget_consumed < 1.0
    # A tenth of the futures keep the present level to the end; another tenth return early.
    assert result.consumed_quantiles["p90"][-1] == pytest.approx(1.1, abs=0.02)
    assert result.consumed_quantiles["p10"][-1] < 0.5
    steady = fc.forecast(fc.fit(with_levels([(35, 0.0011)])), with_levels([(35, 0.0011)]), OBJECTIVE, WINDOW)
    assert steady.violation_probability == 1.0
    assert steady.budget_consumed == pytest.approx(1.1, abs=0.02)


def test_a_degradation_is_expected_to_end_but_not_to_come_back() -> None:
    """Levels are asymmetric: a degraded level (above a past one) may end within the window, back at the
    lower level, but a past degradation the SLO got over is not forecast to return (no history dates a
    new one), and neither is a level an improvement left behind: both keep today's level, like an SLO
    that never changed."""
    recovered = with_levels([(14, 0.0003), (14, 0.0011), (7, 0.0003)])
    improved = with_levels([(21, 0.0011), (14, 0.0003)])
    degraded = with_levels([(21, 0.0003), (14, 0.0011)])
    never = with_levels([(35, 0.0003)])
    for history in (recovered, improved, never):
        model = fc.fit(history)
        assert model is not None and len(model.regime_levels) == 0
        result = fc.forecast(model, history, OBJECTIVE, WINDOW)
        assert result.budget_consumed == pytest.approx(0.3, abs=0.02)
        assert result.violation_probability == 0.0
    model = fc.fit(degraded)
    assert model is not None and model.regime_levels == pytest.approx([0.0003 - 0.0011], abs=1e-5)
    assert model.regime_changes == 1


def quiet_weekends(hours: int, seed: int = 0) -> fc.History:
    """A latency SLO's error ratio: 1% slow requests on weekdays, 0.4% at the quiet weekend (±2% noise
    per hour), on ``series`` traffic."""
    weeks = series(hours, 0.0)
    dow = (np.arange(hours) // 24) % 7
    ratio = np.where(dow >= 5, 0.004, 0.01) * (1 + np.random.default_rng(seed).normal(0, 0.02, hours))
    return fc.History(weeks.start, weeks.total * ratio, weeks.total)


def test_a_quiet_weekend_is_rhythm_not_a_regime() -> None:
    """Five weeks whose error ratio drops every weekend: the weekend is the week's rhythm, not a change of
    level, whatever the weekday the forecast is made on (a Saturday night used to read as a regime that
    had just begun, and the whole next window was forecast at the weekend's level)."""
    objective = 0.99
    future = quiet_weekends(76 * 24)
    for days in (34, 35, 38):  # ends on Saturday night, Sunday night, Wednesday night
        history = fc.History(future.start, future.bad[:days * 24], future.total[:days * 24])
        model = fc.fit(history)
        assert model is not None and model.regime_changes == 0
        assert model.ratio_weekday[5:] == pytest.approx([-0.006, -0.006], abs=0.0005)
        assert model.ratio_weekday[:5] == pytest.approx(np.zeros(5), abs=0.0005)
        ahead = fc.History(future.start + days * 86400, future.bad[days * 24:][:720],
                           future.total[days * 24:][:720])
        result = fc.forecast(model, history, objective, WINDOW)
        assert result.budget_consumed == pytest.approx(true_share(ahead) * (1 - OBJECTIVE) / (1 - objective),
                                                       rel=0.03)


def test_how_long_levels_last_is_learnt_from_the_history() -> None:
    """The same two levels, the same present regime (two weeks at 0.11%), but levels that moved three
    times in five weeks instead of once: they are expected to move again sooner, so fewer futures keep
    the present level to the window's end."""
    once = fc.fit(with_levels([(21, 0.0003), (14, 0.0011)]))
    often = fc.fit(with_levels([(7, 0.0003), (7, 0.0011), (7, 0.0003), (14, 0.0011)]))
    assert once is not None and often is not None
    assert (once.regime_changes, often.regime_changes) == (1, 3)
    assert fc.regime_rate(often) == pytest.approx(3.5 / 35)
    assert fc.regime_rate(once) == pytest.approx(1.5 / 35)
    p_once = fc.forecast(once, with_levels([(21, 0.0003), (14, 0.0011)]), OBJECTIVE, WINDOW)
    p_often = fc.forecast(often, with_levels([(7, 0.0003), (7, 0.0011), (7, 0.0003), (14, 0.0011)]),
                          OBJECTIVE, WINDOW)
    assert p_once.violation_probability is not None and p_often.violation_probability is not None
    assert p_often.violation_probability < p_once.violation_probability - 0.1


def test_regimes_are_level_changes_beyond_noise_and_incidents() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0.0, 0.00001, 35)
    steady = 0.0005 + noise
    assert fc.regimes(steady - 0.0005, 0.0005, 0.0) == ([(0, 35)], False)
    # A step from 0.03% to 0.11% on day 20 is found where it happened, noise or not.
    step = np.where(np.arange(35) < 20, 0.0003, 0.0011)
    for levels in (step, step + noise):
        assert fc.regimes(levels - 0.0003, 0.0003, 0.0008)[0] == [(0, 20), (20, 35)]
    # A move of 5% of the level is no regime, even without noise; one today is seen from the last hours.
    assert fc.regimes(np.where(np.arange(35) < 20, 0.0, 0.000025), 0.0005, 0.0) == ([(0, 35)], False)
    assert fc.regimes(steady - 0.0005, 0.0005, 0.0008) == ([(0, 35)], True)
    # Incident days barely move a day's median: five weeks with incidents have one regime.
    model = fc.fit(with_incidents([3, 9, 17, 25, 30], ratio=0.2))
    assert model is not None and model.regime_changes == 0 and len(model.regime_levels) == 0


def test_one_large_incident_is_weak_evidence_of_the_next() -> None:
    """Five calm weeks at 0.05% errors but one three-hour outage at 20%, which alone spends 1.6 budgets
    of a 30-day window. Seen once in five weeks, it is repeated in fewer than half of the futures (its
    frequency is shrunk towards calm days): the median stays at the calm level, and the probability of
    a violation, which needs the outage again, stays below even (plain resampling: about 0.58)."""
    history = series(35 * 24, 0.0005)
    bad = history.bad.copy()
    outage = slice(17 * 24 + 12, 17 * 24 + 15)
    bad[outage] = history.total[outage] * 0.2
    history = fc.History(history.start, bad, history.total)
    assert true_share(history.tail(30 * 24)) > 1.2  # the outage is inside the current window
    result = fc.forecast(fc.fit(history), history, OBJECTIVE, WINDOW)
    assert result.budget_consumed is not None and result.violation_probability is not None
    assert result.budget_consumed == pytest.approx(0.5, abs=0.1)
    assert 0.2 < result.violation_probability < 0.5


@pytest.mark.parametrize("hours", [0, 1, 24, 47])
def test_short_history_gives_no_numbers(hours: int) -> None:
    history = series(hours, 0.0005)
    result = fc.forecast(fc.fit(history), history, OBJECTIVE, WINDOW)
    assert result.model == fc.INSUFFICIENT
    assert not result.sufficient
    assert (result.budget_consumed, result.end_of_window_sli, result.violation_probability,
            result.exhaustion_at, result.interval, result.trained_on) == (None,) * 6


def test_hours_without_traffic_do_not_count_as_history() -> None:
    history = series(10 * 24, 0.0005)
    empty = fc.History(history.start, np.full(10 * 24, np.nan), np.where(
        np.arange(10 * 24) < 9 * 24, np.nan, history.total))
    assert fc.fit(empty) is None
    assert fc.fit(history) is not None


def test_the_cache_refits_once_per_hour_and_forgets_deleted_slos() -> None:
    cache = fc.ForecastCache()
    history = series(14 * 24, 0.0005)
    first = cache.get("ns/a", history, OBJECTIVE, WINDOW)
    assert cache.get("ns/a", history, OBJECTIVE, WINDOW) is first
    assert cache.fits == 1
    later = series(14 * 24 + 1, 0.0005)
    cache.get("ns/a", later, OBJECTIVE, WINDOW)
    cache.get("ns/b", later, OBJECTIVE, WINDOW)
    assert cache.fits == 3
    cache.keep_only({"ns/b"})
    assert set(cache.entries) == {"ns/b"}
    # The same data give the same numbers (no status flapping between refreshes or restarts).
    again = fc.ForecastCache().get("ns/a", history, OBJECTIVE, WINDOW)
    assert again.violation_probability == first.violation_probability
    assert again.budget_consumed == first.budget_consumed


def test_hourly_means_of_samples() -> None:
    times = np.array([0.0, 1800.0, 3600.0, 3700.0, 9000.0])
    values = np.array([1.0, 3.0, 5.0, np.nan, 7.0])
    out = fc.hourly(MONDAY + times, values, MONDAY, MONDAY + 4 * HOUR)
    assert out[:3].tolist() == [2.0, 5.0, 7.0]
    assert np.isnan(out[3])


def with_incidents(days: list[int], ratio: float = 0.05, hours: int = 35 * 24) -> fc.History:
    """Five weeks at 0.05% errors with a one-hour incident at ``ratio`` errors on each of ``days``."""
    history = series(hours, 0.0005)
    bad = history.bad.copy()
    for day in days:
        bad[day * 24 + 14] = history.total[day * 24 + 14] * ratio
    return fc.History(history.start, bad, history.total)


def test_the_cluster_pools_incident_days_when_its_slos_look_alike() -> None:
    """Three SLOs with a one-hour 5% incident every week or so look alike: the pool weighs as much as
    it may (POOL_CAP_DAYS). An SLO whose days are all calm keeps at least the calm prior's weight,
    and with two SLOs there is no pool (a spread between SLOs needs a few)."""
    alike = [fc.fit(with_incidents(days)) for days in ([3, 10, 18, 25, 31], [5, 12, 19, 27, 33],
                                                       [1, 9, 16, 22, 30])]
    pool = fc.pool_of(alike)
    assert pool is not None and pool.ratio_noise.shape == (3 * 35, 24)
    assert pool.spread == 0.0
    first = alike[0]
    assert first is not None and pool.prior_days(first) == fc.POOL_CAP_DAYS
    assert fc.pool_of(alike[:2]) is None
    assert fc.pool_of([*alike[:2], None]) is None
    # One SLO far busier than the others (an incident every day at 20%): the SLOs differ, so each leans
    # on the cluster less, the calm one least (its own days say exactly how calm it is).
    busy = fc.fit(with_incidents(list(range(35)), ratio=0.2))
    calm = fc.fit(series(35 * 24, 0.0005))
    mixed = fc.pool_of([*alike[:2], busy, calm])
    assert mixed is not None and mixed.spread > 0
    assert calm is not None and mixed.prior_days(calm) == fc.CALM_PRIOR_DAYS
    assert fc.CALM_PRIOR_DAYS < mixed.prior_days(first) < fc.POOL_CAP_DAYS


def test_a_lucky_history_borrows_the_clusters_incidents() -> None:
    """An SLO that had one incident in five weeks, in a cluster where the others had five: alone its
    forecast repeats that incident rarely; pooled with SLOs that look alike it takes their frequency,
    so more futures violate and the median spends more of the budget. Without incidents anywhere the
    pool changes nothing."""
    lucky = with_incidents([17], ratio=0.2)
    others = [fc.fit(with_incidents(days, ratio=0.2)) for days in ([3, 10, 18, 25, 31], [5, 12, 19, 27, 33],
                                                                  [1, 9, 16, 22, 30])]
    model = fc.fit(lucky)
    pool = fc.pool_of([model, *others])
    assert pool is not None
    alone = fc.forecast(model, lucky, OBJECTIVE, WINDOW)
    pooled = fc.forecast(model, lucky, OBJECTIVE, WINDOW, pool=pool)
    assert alone.violation_probability is not None and pooled.violation_probability is not None
    assert alone.budget_consumed is not None and pooled.budget_consumed is not None
    assert pooled.violation_probability > alone.violation_probability + 0.3
    assert pooled.budget_consumed > alone.budget_consumed + 0.3
    steady = series(35 * 24, 0.0005)
    quiet = [fc.fit(steady)] * 3
    quiet_pool = fc.pool_of(quiet)
    assert quiet_pool is not None
    calm = fc.forecast(quiet[0], steady, OBJECTIVE, WINDOW, pool=quiet_pool)
    assert calm.budget_consumed == pytest.approx(0.5, abs=0.02) and calm.violation_probability == 0.0


def test_the_known_part_of_each_future_window_is_used_exactly() -> None:
    """At future hour k the rolling window holds the last ``window - k`` known hours and the first k
    hours of a path: the budget consumed is their exact ratio of sums (brute force below), NaN hours
    count as no events, and once the path fills the window the known hours are gone."""
    rng = np.random.default_rng(7)
    window, ahead = 48, 60
    known_total = rng.uniform(5, 20, 70)
    known_bad = known_total * rng.uniform(0, 0.002, 70)
    known_bad[10] = np.nan
    known_total[11] = np.nan
    bad = rng.uniform(0, 0.05, (3, ahead))
    total = rng.uniform(5, 20, (3, ahead))
    share = fc.consumed(known_bad, known_total, bad, total, window, 1 - OBJECTIVE)
    for path in range(3):
        all_bad = np.concatenate((np.nan_to_num(known_bad), bad[path]))
        all_total = np.concatenate((np.nan_to_num(known_total), total[path]))
        for k in range(ahead):
            end = 70 + k + 1
            expected = all_bad[end - window: end].sum() / all_total[end - window: end].sum() / (1 - OBJECTIVE)
            assert share[path, k] == pytest.approx(expected, rel=1e-9)
