"""The ledger's statistics against hand-worked examples, and its calibration: coverage, error rate and power measured
by simulation on the committed reference results' spreads."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from analysis import stats
from analysis.__main__ import REFERENCE
from analysis.calibrate import MIN_COVERAGE, PRINTED, SEEDS, calibrate
from analysis.claims import Ledger


def test_a_welch_difference_by_hand():
    left, right = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 6.0, 8.0])
    estimate = stats.linear([(1.0, left), (-1.0, right)])
    # variances of the means: 1/3 and (20/3)/4 = 5/3, adding to 2
    assert estimate.value == -3.0 and estimate.standard_error == pytest.approx(np.sqrt(2.0))
    satterthwaite = 2.0**2 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3)  # 4.0755
    assert estimate.df == pytest.approx((satterthwaite + 2) / 2)  # halfway to the fewest, min(3 − 1, 4 − 1) = 2
    low, high = estimate.interval(0.95)
    half = scipy_stats.t.ppf(0.975, (satterthwaite + 2) / 2) * np.sqrt(2.0)
    assert (low, high) == pytest.approx((-3.0 - half, -3.0 + half))
    assert estimate.p_value() == pytest.approx(2 * scipy_stats.t.sf(3 / np.sqrt(2.0), (satterthwaite + 2) / 2))


def test_one_sample_is_the_exact_t_interval():
    values = np.array([3.0, 7.0, 5.0, 9.0])
    mean, low, high = stats.mean_ci(values)
    assert (low, high) == pytest.approx(scipy_stats.t.interval(0.95, 3, loc=6.0, scale=scipy_stats.sem(values)))
    assert np.isnan(stats.mean_ci([4.0])[1]) and stats.mean_ci([4.0])[0] == 4.0
    assert np.isnan(stats.linear([(1.0, [4.0]), (-1.0, [1.0, 2.0])]).p_value())  # one value: no spread, no test


def test_a_stratified_estimate_weights_each_game():
    games = [np.array([0.0, 2.0]), np.array([10.0, 14.0, 12.0])]
    estimate = stats.linear([(0.5, games[0]), (0.5, games[1])])
    assert estimate.value == pytest.approx((1.0 + 12.0) / 2)
    assert estimate.standard_error == pytest.approx(np.sqrt(0.25 * 2.0 / 2 + 0.25 * 4.0 / 3))


def test_no_spread_decides_exactly():
    same = stats.linear([(1.0, [21.0, 21.0]), (-1.0, [21.0, 21.0, 21.0])])
    assert same.p_value() == 1.0 and same.interval() == (0.0, 0.0)
    apart = stats.linear([(1.0, [22.0, 22.0]), (-1.0, [21.0, 21.0])])
    assert apart.p_value() == 0.0


def test_holm_by_hand():
    # sorted: 0.01 ≤ 0.05/4 rejected at level 1 − 0.0125; 0.03 > 0.05/3: the procedure stops there
    rejected, levels = stats.holm([0.01, 0.04, 0.03, 0.2], 0.05)
    assert rejected.tolist() == [True, False, False, False]
    assert levels == pytest.approx([1 - 0.05 / 4, 1 - 0.05 / 3, 1 - 0.05 / 3, 1 - 0.05 / 3])
    rejected, levels = stats.holm([0.002, 0.001], 0.05)  # both: the smaller at 0.05/2, the next at 0.05
    assert rejected.tolist() == [True, True] and levels == pytest.approx([0.95, 0.975])
    rejected, levels = stats.holm([np.nan, 0.04], 0.05)  # no test: out of the family, which has one member
    assert rejected.tolist() == [False, True] and np.isnan(levels[0]) and levels[1] == pytest.approx(0.95)
    # where Holm stops, every retained row's interval contains 0: its p-value is at least the stopping one
    estimates = [stats.Estimate(value, 1.0, 10.0) for value in (4.0, 2.5, 2.4, 0.3)]
    rejected, levels = stats.holm([e.p_value() for e in estimates], 0.05)
    for estimate, decided, level in zip(estimates, rejected, levels):
        low, high = estimate.interval(level)
        assert decided == (low > 0 or high < 0)


def test_verdicts_by_the_sign_of_a_decided_difference():
    assert stats.verdict(stats.Estimate(2.0, 0.5, 9.0), True) == "supported"
    assert stats.verdict(stats.Estimate(-2.0, 0.5, 9.0), True) == "contradicted"
    assert stats.verdict(stats.Estimate(2.0, 0.5, 9.0), False) == "inconclusive"


def test_power_by_hand_and_by_its_limits():
    design = stats.Design(((1.0, 1.0, 0, True), (-1.0, 1.0, 0, True)))  # two methods, unit spread each
    # normal approximation at 10 seeds a side: the difference's error is √(2/10); 80% power at 5% two-sided lies
    # near (1.96 + 0.84)·0.447 = 1.25, and a t with 13.5 degrees of freedom needs a little more
    detectable = design.detectable(10, 0.95)
    assert 1.25 < detectable < 1.4
    assert design.power(detectable, 10, 0.95) == pytest.approx(stats.POWER, abs=0.001)
    assert design.power(0.0, 10, 0.95) == pytest.approx(0.05, abs=0.01)  # no difference: the error rate
    assert design.seeds_needed(detectable, 0.95) in (10, 11)  # the first count at 80%, up to the draws' noise
    assert design.seeds_needed(100.0, 0.95) == stats.MIN_SEEDS  # never below the calibrated floor
    assert np.isnan(design.seeds_needed(0.0, 0.95))
    # a reference of 5 episodes with a wide spread: more seeds shrink only the method's share of the error
    reference = stats.Design(((1.0, 0.01, 0, True), (-1.0, 25.0, 5, False)))
    assert np.isinf(reference.seeds_needed(0.5, 0.95))


@pytest.fixture(scope="module")
def calibration():
    results = {}
    for name in ("default", "claims"):
        tables = REFERENCE / name / "tables"
        ledger = Ledger(pd.read_csv(tables / "run_scores.csv"), pd.DataFrame(columns=["game", "method", "published"]),
                        pd.read_csv(tables / "demonstrators.csv"), error_rate=0.05)
        results[name] = calibrate(ledger, studies=2000, seed=1, bootstrap=False)
    return results


@pytest.mark.parametrize("name", ["default", "claims"])
def test_every_printed_interval_covers_at_3_5_and_10_seeds(calibration, name):
    coverage = calibration[name]["coverage"]
    normal = coverage[coverage["shape"] == "normal"]
    assert sorted(normal["seeds"].unique()) == list(SEEDS) and len(normal["claim"].unique()) >= 4
    for column in PRINTED:
        worst = normal.groupby("seeds")[column].min()
        assert (worst >= MIN_COVERAGE).all(), (column, worst.to_dict())


@pytest.mark.parametrize("name", ["default", "claims"])
def test_no_difference_is_decided_at_most_at_the_declared_rate(calibration, name):
    errors = calibration[name]["errors"]
    assert (errors["familywise"] <= 0.05).all(), errors.to_dict("records")


@pytest.mark.parametrize("name", ["default", "claims"])
def test_stated_power_is_the_power_simulated(calibration, name):
    power = calibration[name]["power"]
    detectable = power[power["figure"] == "detectable difference"]
    assert len(detectable) >= 12 and detectable["decided"].between(0.75, 0.85).all(), detectable.to_dict("records")
    counts = power[power["figure"] == "seeds for the observed difference"]
    assert (counts["decided"] >= 0.75).all()
    above_floor = counts[counts["seeds"] > stats.MIN_SEEDS]
    assert above_floor["decided"].between(0.75, 0.85).all(), above_floor.to_dict("records")


def test_calibrate_prints_its_tables_and_refuses_bad_numbers(tmp_path, capsys):
    from analysis.__main__ import main

    out = tmp_path / "calibration.md"
    assert main(["calibrate", "--results", str(REFERENCE / "default"), "--studies", "200", "--no-bootstrap",
                 "--markdown", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| normal | 3 |" in printed and "any verdict wrong" in printed and printed.strip() in out.read_text()
    for argv, message in ((["--error-rate", "2"], "is not a familywise error rate"), (["--studies", "5"], "too few"),
                          (["--results", str(tmp_path)], "run_scores.csv not found")):
        with pytest.raises(SystemExit, match=message):
            main(["calibrate", *argv])
