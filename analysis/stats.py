"""Interval estimates, tests and power over seeds: what every verdict of the ledger is made of.

Every estimate the ledger prints is a weighted sum of independent sample means, Σ cᵢ·mean(xᵢ): one side's mean over
seeds (one sample), the difference of two sides (Welch: +1 and −1), or across games the average over games of
normalised per-game means or differences (a stratified estimate, weight 1/G per game). Its standard error is
√Σ cᵢ²·sᵢ²/nᵢ and its interval a t-interval with the Welch–Satterthwaite degrees of freedom; with one game and one
sample this is the exact t-interval, otherwise an approximation whose coverage `analysis.calibrate` measures by
simulation at the seed counts the suite uses.

The samples are independent: seeds are not paired across methods (a method's learning episodes do not share starts
with another's), so differences are Welch's, never paired t.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

POWER = 0.8  # the power every "detectable difference" and "seeds per side" figure is stated at
MAX_SEEDS = 1000  # seeds-per-side estimates above this are reported as more than it
MIN_SEEDS = 3  # the fewest seeds per side a stated count goes down to: where the calibration starts
UNLIMITED = 10**12
POWER_DRAWS = 20_000  # simulated studies behind each power figure: ±0.3 points at 80%  # seeds per side that leave only a reference's own uncertainty


def combine(terms: Sequence[tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Σ c·mean(x) over independent samples x (each of shape (..., n), n ≥ 2, no NaN), its standard error
    √Σ c²·s²/n and degrees of freedom; leading axes are independent studies (the calibration simulates thousands at
    once). No spread at all: error 0, infinite df."""
    value = sum(coefficient * values.mean(axis=-1) for coefficient, values in terms)
    parts = [coefficient**2 * values.var(axis=-1, ddof=1) / values.shape[-1] for coefficient, values in terms]
    variance = sum(parts)
    return np.asarray(value, dtype=float), np.sqrt(variance), degrees(parts, [values.shape[-1] for _, values in terms])


def degrees(parts: Sequence[np.ndarray], counts: Sequence[int]) -> np.ndarray:
    """Degrees of freedom of Σ c·mean(x) from each term's c²s²/n and sample size: halfway between Welch–
    Satterthwaite's (Σ c²s²/n)² / Σ (c²s²/n)²/(n − 1) and the fewest of any term with a spread, min(n − 1).

    Why not Satterthwaite's alone: its t covers 95% well, but rejects too often in the far tails a corrected family
    tests at (simulated on the committed spreads: a whole ledger decided a non-existent difference up to 5.9% of the
    time at a declared 5%). The fewest (Hsu; Mickey & Brown 1966) never rejects more often than its level but throws
    much of the power away (0.04–2.3% against 5%; claim 1 decided at 3 seeds 37% of the time against 93%). Halfway
    held 1.9–4.3% and 85%; `analysis calibrate` measures it again on any results. One term: both are n − 1, the
    exact t."""
    parts = [np.asarray(part, dtype=float) for part in parts]
    variance = sum(parts)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = sum(part**2 / (count - 1) for part, count in zip(parts, counts))
        satterthwaite = variance**2 / np.where(spread > 0, spread, 1.0)
    fewest = np.minimum.reduce([np.where(part > 0, count - 1.0, np.inf) for part, count in zip(parts, counts)])
    return np.where(variance > 0, (satterthwaite + fewest) / 2, np.inf)


def t_interval(value, error, df, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    half = np.where(error > 0, stats.t.ppf(0.5 + confidence / 2, df) * error, 0.0)
    return value - half, value + half


def t_p_value(value, error, df) -> np.ndarray:
    """Two-sided, against a true value of 0; with no spread at all the data decide exactly."""
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = 2 * stats.t.sf(np.abs(value) / np.where(error > 0, error, 1.0), df)
    return np.where(error > 0, tail, np.where(value == 0, 1.0, 0.0))


@dataclass(frozen=True)
class Estimate:
    """A weighted sum of sample means with its standard error and degrees of freedom (NaN: a sample of one value,
    whose spread is unknown; infinite: no spread in any sample)."""
    value: float
    standard_error: float
    df: float

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        if not np.isfinite(self.standard_error):
            return np.nan, np.nan
        low, high = t_interval(self.value, self.standard_error, self.df, confidence)
        return float(low), float(high)

    def p_value(self) -> float:
        if not np.isfinite(self.standard_error) or not np.isfinite(self.value):
            return np.nan
        return float(t_p_value(self.value, self.standard_error, self.df))


def clean(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def linear(terms: Sequence[tuple[float, np.ndarray]]) -> Estimate:
    """`combine` on one study's samples, NaNs dropped; a sample of one value leaves the spread unknown."""
    terms = [(coefficient, clean(values)) for coefficient, values in terms]
    if not terms or any(len(values) == 0 for _, values in terms):
        return Estimate(np.nan, np.nan, np.nan)
    if any(len(values) < 2 for _, values in terms):
        return Estimate(float(sum(c * values.mean() for c, values in terms)), np.nan, np.nan)
    value, error, df = combine(terms)
    return Estimate(float(value), float(error), float(df))


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and the two ends of its t-interval; a single value gives a NaN-width interval."""
    estimate = linear([(1.0, values)])
    return (estimate.value, *estimate.interval(confidence))


def holm(p_values: Sequence[float], error_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down procedure over a family of two-sided tests: which are rejected, and for each test the
    confidence level whose interval agrees with that decision.

    A test rejected at step k used the level 1 − α/(m − k + 1); every test not rejected is shown at the level of the
    step where the procedure stopped, whose interval contains 0 for each of them (their p-values are at least the
    stopping one's). NaN p-values (no test possible) are left out of the family."""
    p = np.asarray(p_values, dtype=float)
    tested = np.flatnonzero(~np.isnan(p))
    rejected = np.zeros(len(p), dtype=bool)
    levels = np.full(len(p), np.nan)
    m = len(tested)
    order = tested[np.argsort(p[tested], kind="stable")]
    stop_level = 1 - error_rate  # every test rejected: nothing is retained, the value is unused
    for step, index in enumerate(order):
        threshold = error_rate / (m - step)
        if p[index] > threshold:
            stop_level = 1 - threshold
            break
        rejected[index] = True
        levels[index] = 1 - threshold
    levels[tested[~rejected[tested]]] = stop_level
    return rejected, levels


def verdict(estimate: Estimate, rejected: bool) -> str:
    """A rejected test is decided by the sign of the difference (left − right): supported or contradicted."""
    if not rejected:
        return "inconclusive"
    return "supported" if estimate.value > 0 else "contradicted"


@dataclass(frozen=True)
class Design:
    """How a comparison's standard error scales with seeds: each term is (coefficient, variance, count, whether its
    count is a method's seeds per side). A reference (the demonstrator's episodes) keeps its count."""
    terms: tuple[tuple[float, float, int, bool], ...]

    @classmethod
    def of(cls, terms: Sequence[tuple[float, np.ndarray, bool]]) -> Design:
        samples = [(coefficient, clean(values), seeds) for coefficient, values, seeds in terms]
        return cls(tuple((coefficient, float(values.var(ddof=1)) if len(values) > 1 else np.nan, len(values), seeds)
                         for coefficient, values, seeds in samples))

    def usable(self) -> bool:
        return all(count >= 2 and np.isfinite(variance) for _, variance, count, _ in self.terms)

    def error(self, seeds: int) -> float:
        """Standard error with `seeds` seeds on each method side."""
        counts = np.array([seeds if scales else count for _, _, count, scales in self.terms], dtype=float)
        return float(np.sqrt(np.sum(np.array([c**2 * variance for c, variance, _, _ in self.terms]) / counts)))

    def power(self, difference: float, seeds: int, level: float) -> float:
        """Chance that the ledger's two-sided test at `level` (the confidence level: 1 − its error rate) decides a
        true difference of this size, the spreads taken as true: simulated, because at a few seeds the estimated
        spreads and degrees of freedom move the test as much as the difference does (a noncentral t with fixed
        degrees of freedom promised 80% where 63–70% was decided at 3 seeds). The same draws at every call, so
        power is a smooth function of the difference and the searches below converge."""
        counts = np.array([seeds if scales else count for _, _, count, scales in self.terms], dtype=float)
        parts = np.array([c**2 * variance for c, variance, _, _ in self.terms]) / counts
        if parts.sum() == 0:
            return 1.0 if difference != 0 else 0.0
        rng = np.random.default_rng(0)
        value = abs(difference) + rng.standard_normal((POWER_DRAWS, len(parts))) @ np.sqrt(parts)
        estimated = parts * rng.chisquare(counts - 1, (POWER_DRAWS, len(parts))) / (counts - 1)
        error = np.sqrt(estimated.sum(axis=1))
        p = t_p_value(value, error, degrees(list(estimated.T), list(counts)))
        return float(np.mean(p <= 1 - level))

    def detectable(self, seeds: int, level: float) -> float:
        """The smallest true difference decided with probability POWER at this seed count."""
        error = self.error(seeds)
        if error == 0:
            return 0.0
        high = error
        while self.power(high, seeds, level) < POWER:
            high *= 2
        return float(optimize.brentq(lambda size: self.power(size, seeds, level) - POWER, 0.0, high, xtol=1e-6 * high))

    def seeds_needed(self, difference: float, level: float) -> float:
        """The fewest seeds per side, and at least MIN_SEEDS, at which a true difference of this size is decided with
        probability POWER (NaN: no difference; MAX_SEEDS + 1: more than MAX_SEEDS; infinite: not with any number of seeds, because the
        reference's own episodes leave too much uncertainty)."""
        if not np.isfinite(difference) or difference == 0:
            return np.nan
        if self.power(difference, UNLIMITED, level) < POWER:
            return np.inf
        if self.power(difference, MAX_SEEDS, level) < POWER:
            return float(MAX_SEEDS + 1)
        if self.power(difference, MIN_SEEDS, level) >= POWER:
            return float(MIN_SEEDS)
        low, high = MIN_SEEDS, MAX_SEEDS  # power grows with seeds: bisect for the first count that reaches POWER
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (low, middle) if self.power(difference, middle, level) >= POWER else (middle, high)
        return float(high)
