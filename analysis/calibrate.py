"""Do the ledger's intervals and verdicts hold their stated rates at the seed counts the suite uses? Measured by
simulation, not assumed.

Each scenario is a comparison of the ledger as a results folder has it: per game, each side's mean and spread over
seeds (or the demonstrator's over its episodes), taken as the truth. Thousands of synthetic studies are drawn from it
at 3, 5 and 10 seeds a side (the demonstrator keeps its number of episodes), and each study is analysed by the same
functions the ledger uses (analysis/stats.py). Measured:

- coverage: how often each interval the ledger prints contains the true value (a side's mean per game and across
  games, the difference per game and across games; the across-game aggregates' mean is the across-game side);
- the error rate: with every true difference set to 0, how often Holm's procedure over the whole ledger decides any
  row (familywise), and how often each row is decided wrongly;
- power: at the seeds per side the ledger states for 80% power, how often the row is decided.

Runs are drawn normal (asserted by the test suite) and, as a robustness check, skewed (a shifted lognormal with the
same mean and spread, reported only). The interquartile mean, median and probability of improvement of the aggregates
table are measured too: their stratified percentile bootstrap intervals fall short of their coverage with few games
and seeds, which is why the suite prints them without an interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .aggregate import iqm, probability_of_improvement
from .claims import CLAIMS, DEMONSTRATOR, PUBLISHED, Ledger
from .stats import MIN_SEEDS, POWER, Design, combine, holm, t_interval, t_p_value

SEEDS = (3, 5, 10)
STUDIES = 2000
BOOTSTRAP = 1000  # replicates per simulated study for the bootstrap intervals (the suite's tables use 2,000)
MIN_COVERAGE = 0.93  # what the test suite asserts for every printed interval at 95% (2,000 studies: ±1 pt)
PRINTED = ("side, per game", "side, across games", "difference, per game", "difference, across games")
MAX_POWER_SEEDS = 40  # power is simulated where the stated count is at most this (beyond, the draws get costly)


@dataclass(frozen=True)
class Sample:
    """One side on one game, in normalised units: true mean and spread, and its size (None: a method's seeds)."""
    mean: float
    spread: float
    size: int | None


@dataclass(frozen=True)
class Scenario:
    claim: str
    games: tuple[str, ...]
    left: tuple[Sample, ...]
    right: tuple[Sample, ...]

    def null(self) -> Scenario:
        """The same spreads, with the right side's true means moved onto the left's: no difference anywhere."""
        right = tuple(Sample(left.mean, sample.spread, sample.size) for left, sample in zip(self.left, self.right))
        return Scenario(self.claim, self.games, self.left, right)


def scenarios(ledger: Ledger) -> list[Scenario]:
    """The ledger's tested comparisons (not the context rows, each test once) whose every side has a spread on every
    game."""
    found, seen = [], set()
    for claim in CLAIMS:
        games = ledger.games(claim)
        if not games or PUBLISHED in (claim.left.score, claim.right.score):
            continue
        signature = ledger.signature(claim, games)
        if signature in seen:
            continue
        seen.add(signature)
        sides, units = [], []
        for side in (claim.left, claim.right):
            samples, unit = [], ledger.scale(side, games, normalised=True)[0]
            units.append(unit)
            for game, width in zip(games, unit):
                values = ledger.sample(side, game)
                values = values[np.isfinite(values)] / width
                samples.append(Sample(float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else np.nan,
                                      len(values) if side.score == DEMONSTRATOR else None))
            sides.append(tuple(samples))
        if np.isfinite(units).all() and all(np.isfinite(sample.spread) for side in sides for sample in side):
            found.append(Scenario(claim.key, tuple(games), *sides))
    return found


def draw(sample: Sample, seeds: int, studies: int, rng: np.random.Generator, shape: str) -> np.ndarray:
    size = sample.size or seeds
    if shape == "normal" or sample.spread == 0:
        return rng.normal(sample.mean, sample.spread, (studies, size))
    sigma = 0.5  # a lognormal with σ = 0.5 has skewness 1.75: a long upper tail, as when a few runs take off
    raw = rng.lognormal(0.0, sigma, (studies, size))
    mean, spread = np.exp(sigma**2 / 2), np.sqrt((np.exp(sigma**2) - 1) * np.exp(sigma**2))
    return sample.mean + sample.spread * (raw - mean) / spread


def study(scenario: Scenario, seeds: int, studies: int, rng: np.random.Generator, shape: str) -> dict:
    """Per study, the per-game and across-game estimates of the difference and of each side, with the truth."""
    left = [draw(sample, seeds, studies, rng, shape) for sample in scenario.left]
    right = [draw(sample, seeds, studies, rng, shape) for sample in scenario.right]
    games = len(scenario.games)
    out = {"per game": [combine([(1.0, x), (-1.0, y)]) for x, y in zip(left, right)],
           "across": combine([(1.0 / games, x) for x in left] + [(-1.0 / games, y) for y in right]),
           "sides per game": [combine([(1.0, x)]) for x in left + right],
           "sides across": [combine([(1.0 / games, x) for x in side]) for side in (left, right)]}
    truth = {"per game": [a.mean - b.mean for a, b in zip(scenario.left, scenario.right)],
             "sides per game": [sample.mean for sample in scenario.left + scenario.right],
             "sides across": [np.mean([sample.mean for sample in side]) for side in (scenario.left, scenario.right)]}
    truth["across"] = np.mean(truth["per game"])
    return {"estimates": out, "truth": truth, "left": left, "right": right}


def covered(estimate, truth, confidence=0.95) -> np.ndarray:
    low, high = t_interval(*estimate, confidence)
    return (low <= truth) & (truth <= high)


def coverage(scenario: Scenario, seeds: int, studies: int, rng: np.random.Generator, shape: str) -> dict:
    result = study(scenario, seeds, studies, rng, shape)
    estimates, truth = result["estimates"], result["truth"]
    rates = {
        "side, per game": np.mean([covered(e, t) for e, t in zip(estimates["sides per game"], truth["sides per game"])
                                   ]),
        "side, across games": np.mean([covered(e, t) for e, t in zip(estimates["sides across"], truth["sides across"])
                                       ]),
        "difference, per game": np.mean([covered(e, t) for e, t in zip(estimates["per game"], truth["per game"])]),
        "difference, across games": covered(estimates["across"], truth["across"]).mean(),
    }
    # Per game the interval has one sample per side: the worst game is what a reader relies on.
    rates["difference, worst game"] = min(covered(e, t).mean() for e, t in zip(estimates["per game"],
                                                                              truth["per game"]))
    return {key: float(value) for key, value in rates.items()}


def bootstrap_coverage(scenario: Scenario, seeds: int, studies: int, rng: np.random.Generator) -> dict:
    """The aggregates table's bootstrap statistics on one side (IQM, median) and both (probability of improvement),
    stratified percentile intervals as rliable draws them; the truth from a large draw of the same distributions."""
    if any(sample.size for sample in scenario.left + scenario.right):
        return {}  # the demonstrator is not a method: no aggregate compares with it
    result = study(scenario, seeds, studies, rng, "normal")
    left, right = result["left"], result["right"]
    population = np.concatenate([rng.normal(s.mean, s.spread, 200_000) for s in scenario.left])
    truths = {"iqm": iqm(population), "median": np.median(population),
              "improvement": np.mean([stats.norm.cdf((a.mean - b.mean) / np.hypot(a.spread, b.spread))
                                      if np.hypot(a.spread, b.spread) > 0 else 0.5 + 0.5 * np.sign(a.mean - b.mean)
                                      for a, b in zip(scenario.left, scenario.right)])}
    hits = {name: 0 for name in truths}
    for index in range(studies):
        games_left, games_right = [x[index] for x in left], [y[index] for y in right]
        picks = [rng.integers(0, seeds, size=(BOOTSTRAP, seeds)) for _ in games_left]
        boot_left = np.concatenate([x[pick] for x, pick in zip(games_left, picks)], axis=1)
        boot_right = [y[rng.integers(0, seeds, size=(BOOTSTRAP, seeds))] for y in games_right]
        boots = {"iqm": iqm(boot_left, axis=1), "median": np.median(boot_left, axis=1),
                 "improvement": probability_of_improvement([x[pick] for x, pick in zip(games_left, picks)],
                                                           boot_right)}
        for name, values in boots.items():
            low, high = np.percentile(values, [2.5, 97.5])
            hits[name] += low <= truths[name] <= high
    return {f"{name} (not printed)": hits[name] / studies for name in truths}


def error_rates(found: list[Scenario], seeds: int, studies: int, rng: np.random.Generator,
                error_rate: float) -> dict:
    """Every comparison at no true difference, decided together as the ledger decides them: one Holm family over
    the claims' across-game verdicts."""
    p_values = [t_p_value(*study(scenario.null(), seeds, studies, rng, "normal")["estimates"]["across"])
                for scenario in found]
    p_values = np.array(p_values).T  # (studies, family)
    decided = np.array([holm(row, error_rate)[0] for row in p_values])
    return {"familywise": float(decided.any(axis=1).mean()), "worst row": float(decided.mean(axis=0).max()),
            "family": p_values.shape[1]}


def design(scenario: Scenario) -> Design:
    """The across-game comparison's standard error as the ledger models it, from the true spreads."""
    games = len(scenario.games)
    return Design(tuple((sign / games, sample.spread**2, sample.size or 0, sample.size is None)
                        for side, sign in ((scenario.left, 1.0), (scenario.right, -1.0)) for sample in side))


def shifted(scenario: Scenario, difference: float) -> Scenario:
    """The scenario with the left side moved so that its true across-game difference is `difference`."""
    current = np.mean([a.mean - b.mean for a, b in zip(scenario.left, scenario.right)])
    left = tuple(Sample(sample.mean + difference - current, sample.spread, sample.size) for sample in scenario.left)
    return Scenario(scenario.claim, scenario.games, left, scenario.right)


def decided(scenario: Scenario, seeds: int, level: float, studies: int, rng: np.random.Generator) -> float:
    estimate = study(scenario, seeds, studies, rng, "normal")["estimates"]["across"]
    return float((t_p_value(*estimate) <= 1 - level).mean())


def power_checks(scenario: Scenario, family: int, studies: int, rng: np.random.Generator,
                 error_rate: float) -> list[dict]:
    """The ledger's two power figures, each checked at the Bonferroni level it is stated at: at the detectable
    difference for 3, 5 and 10 seeds, and at the observed difference with the seeds per side it says are needed."""
    level, model = 1 - error_rate / family, design(scenario)
    checks = [{"claim": scenario.claim, "figure": "detectable difference", "seeds": seeds,
               "stated": POWER, "decided": decided(shifted(scenario, model.detectable(seeds, level)), seeds, level,
                                                   studies, rng)} for seeds in SEEDS]
    difference = float(np.mean([a.mean - b.mean for a, b in zip(scenario.left, scenario.right)]))
    seeds = model.seeds_needed(difference, level)
    if np.isfinite(seeds) and seeds <= MAX_POWER_SEEDS:
        checks.append({"claim": scenario.claim, "figure": "seeds for the observed difference", "seeds": int(seeds),
                       "stated": model.power(difference, int(seeds), level),
                       "decided": decided(scenario, int(seeds), level, studies, rng)})
    return checks


def calibrate(ledger: Ledger, studies: int = STUDIES, seed: int = 0, bootstrap: bool = True) -> dict:
    """Coverage (per scenario, seed count and shape), the error rate under no difference, and power."""
    rng = np.random.default_rng(seed)
    found = scenarios(ledger)
    rows = []
    for scenario in found:
        for seeds in SEEDS:
            for shape in ("normal", "skewed"):
                rows.append({"claim": scenario.claim, "seeds": seeds, "shape": shape,
                             **coverage(scenario, seeds, studies, rng, shape)})
            if bootstrap:
                rows[-2].update(bootstrap_coverage(scenario, seeds, studies, rng))
    errors = pd.DataFrame([{"seeds": seeds, **error_rates(found, seeds, studies, rng, ledger.error_rate)}
                           for seeds in SEEDS])
    family = int(errors["family"].iloc[0]) if len(errors) else 1
    checks = [check for scenario in found for check in power_checks(scenario, family, studies, rng,
                                                                     ledger.error_rate)]
    return {"coverage": pd.DataFrame(rows), "errors": errors, "power": pd.DataFrame(checks)}


def to_markdown(result: dict, error_rate: float, studies: int) -> str:
    coverage = result["coverage"]
    lines = [f"Coverage of the ledger's 95% intervals, {studies} simulated studies per cell (smallest over the "
             "scenarios; normal runs are asserted ≥ 93% by the test suite, skewed ones are a robustness check):", ""]
    columns = [column for column in coverage.columns if column not in ("claim", "seeds", "shape")]
    lines += ["| runs | seeds | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for (shape, seeds), group in coverage.groupby(["shape", "seeds"], sort=False):
        cells = ["–" if group[column].isna().all() else f"{100 * group[column].min():.1f}%" for column in columns]
        lines.append(f"| {shape} | {seeds} | " + " | ".join(cells) + " |")
    errors = result["errors"]
    lines += ["", f"Error rate with no true difference anywhere (one Holm family of {int(errors['family'].iloc[0])} "
              f"verdicts at {error_rate:g}): any verdict wrong, and the most often wrong row:", "",
              "| seeds | any verdict wrong | worst row |", "|---|---|---|"]
    lines += [f"| {row['seeds']} | {100 * row['familywise']:.1f}% | {100 * row['worst row']:.1f}% |"
              for row in errors.to_dict("records")]
    power = result["power"]
    lines += ["", f"Power: how often the test decides at the Bonferroni level the ledger states its power at "
              f"({int(POWER * 100)}% intended), at the detectable difference it states for each seed count, and at the "
              f"observed difference with the seeds per side it states (where at most {MAX_POWER_SEEDS}; at the floor of "
              f"{MIN_SEEDS} seeds the power can only be higher):", "",
              "| claim | figure | seeds per side | stated power | decided |", "|---|---|---|---|---|"]
    lines += [f"| {row['claim']} | {row['figure']} | {row['seeds']} | {100 * row['stated']:.1f}% | "
              f"{100 * row['decided']:.1f}% |" for row in power.to_dict("records")]
    return "\n".join(lines) + "\n"
