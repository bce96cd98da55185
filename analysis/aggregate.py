"""Across-game statistics of demonstrator-normalised scores (Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice"): interquartile mean, median and mean with stratified bootstrap intervals, performance profiles
and the probability of improvement between two methods.

rliable implements these, but its last release (1.2.0) needs arch < 8, whose releases fail to import under pandas 3
(arch 7.2) or reject rliable's arguments (arch 8.0), so the few lines are written here and tested against direct
computations.

Stratified bootstrap: every replicate resamples the runs of each game with replacement, separately per game, so
each game keeps its number of runs and the interval reflects the spread between seeds, not the choice of games.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

REPLICATES = 2000
# Why a run has no normalised score: demonstrations are recorded for the methods that use them, and only for those.
NOT_NORMALISED = "no demonstrator baseline: no method of the matrix uses demonstrations, so none were recorded"


def iqm(scores: np.ndarray, axis=None) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the pooled runs."""
    return stats.trim_mean(scores, 0.25, axis=axis)


STATISTICS = {
    "iqm": lambda samples: iqm(samples, axis=-1),
    "median": lambda samples: np.median(samples, axis=-1),
    "mean": lambda samples: samples.mean(axis=-1),
}


def by_game(table: pd.DataFrame, method: str, column: str) -> list[np.ndarray]:
    """The method's runs grouped by game, games in sorted order, runs without a score left out."""
    rows = table[(table["method"] == method) & table[column].notna()]
    return [group[column].to_numpy(dtype=float) for _, group in sorted(rows.groupby("game"))]


def resample(games: list[np.ndarray], rng: np.random.Generator, replicates: int) -> list[np.ndarray]:
    """Stratified bootstrap: per game, `replicates` resamples of its runs, shape (replicates, runs)."""
    return [runs[rng.integers(0, len(runs), size=(replicates, len(runs)))] for runs in games]


def interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def aggregate_table(table: pd.DataFrame, methods: list[str], columns: list[str], seed: int = 0,
                    replicates: int = REPLICATES) -> pd.DataFrame:
    """Per method and score column: IQM, median and mean of the pooled runs with 95% stratified bootstrap CIs."""
    rows = []
    for method in methods:
        for column in columns:
            games = by_game(table, method, column)
            if not games:
                continue
            pooled = np.concatenate(games)
            samples = np.concatenate(resample(games, np.random.default_rng(seed), replicates), axis=1)
            row = {"method": method, "score": column, "games": len(games), "runs": len(pooled)}
            for name, statistic in STATISTICS.items():
                row[name] = float(statistic(pooled))
                row[f"{name}_ci95_low"], row[f"{name}_ci95_high"] = interval(statistic(samples))
            rows.append(row)
    return pd.DataFrame(rows)


def performance_profile(table: pd.DataFrame, method: str, column: str, thresholds: np.ndarray, seed: int = 0,
                        replicates: int = REPLICATES) -> pd.DataFrame:
    """Share of runs scoring above each threshold, each game weighted equally, with a stratified bootstrap band."""
    games = by_game(table, method, column)

    def share(per_game):  # per game (..., runs) → (..., thresholds), then the mean over games
        return np.mean([(runs[..., :, None] > thresholds).mean(axis=-2) for runs in per_game], axis=0)

    low, high = np.percentile(share(resample(games, np.random.default_rng(seed), replicates)), [2.5, 97.5], axis=0)
    return pd.DataFrame({"threshold": thresholds, "share": share(games), "ci95_low": low, "ci95_high": high})


def probability_of_improvement(x_games: list[np.ndarray], y_games: list[np.ndarray]) -> np.ndarray:
    """P(X > Y): per game the share of run pairs where X scores higher (ties count half), averaged over games.
    Arrays may carry leading replicate axes: (..., runs)."""
    per_game = []
    for x, y in zip(x_games, y_games):
        difference = x[..., :, None] - y[..., None, :]
        per_game.append(((difference > 0) + 0.5 * (difference == 0)).mean(axis=(-2, -1)))
    return np.mean(per_game, axis=0)


def improvement_table(table: pd.DataFrame, pairs: list[tuple[str, str]], column: str, seed: int = 0,
                      replicates: int = REPLICATES) -> pd.DataFrame:
    """P(X > Y) on the games both methods ran, with a stratified bootstrap CI (each method resampled per game)."""
    rows = []
    for x, y in pairs:
        shared = sorted(set(table.loc[table["method"] == x, "game"]) & set(table.loc[table["method"] == y, "game"]))
        subset = table[table["game"].isin(shared)]
        x_games, y_games = by_game(subset, x, column), by_game(subset, y, column)
        if not x_games or len(x_games) != len(y_games):
            continue
        rng = np.random.default_rng(seed)
        boot = probability_of_improvement(resample(x_games, rng, replicates), resample(y_games, rng, replicates))
        low, high = interval(boot)
        rows.append({"x": x, "y": y, "score": column, "games": len(x_games),
                     "probability": float(probability_of_improvement(x_games, y_games)),
                     "probability_ci95_low": low, "probability_ci95_high": high})
    # With one method (or no shared game) there is no comparison: an empty table that still has its columns.
    return pd.DataFrame(rows, columns=["x", "y", "score", "games", "probability", "probability_ci95_low",
                                       "probability_ci95_high"])
