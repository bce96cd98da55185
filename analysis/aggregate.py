"""Across-game statistics of demonstrator-normalised scores (after Agarwal et al. 2021, "Deep RL at the edge of the
statistical precipice"): the mean over games with its interval, the interquartile mean and median of the pooled runs,
performance profiles and the probability of improvement between two methods.

Only the mean carries an interval: the stratified t-interval the claims ledger uses (analysis/stats.py), whose coverage
`python -m analysis calibrate` measures. rliable's stratified percentile bootstrap intervals for the IQM, median,
profiles and probability of improvement fall well short of 95% with a handful of games and seeds (the calibration
measures them too, on the committed results at 3–10 seeds: 71–91% for the IQM, 48–93% for the median, 78–94% for the
probability of improvement), so those statistics are printed as point estimates.

rliable itself is not a dependency: its last release (1.2.0) needs arch < 8, whose releases fail to import under
pandas 3 (arch 7.2) or reject rliable's arguments (arch 8.0), and the statistics kept here are a few lines each.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .stats import linear

# Why a run has no normalised score: demonstrations are recorded for the methods that use them, and only for those.
NOT_NORMALISED = "no demonstrator baseline: no method of the matrix uses demonstrations, so none were recorded"


def iqm(scores: np.ndarray, axis=None) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% of the pooled runs."""
    return stats.trim_mean(scores, 0.25, axis=axis)


def by_game(table: pd.DataFrame, method: str, column: str) -> list[np.ndarray]:
    """The method's runs grouped by game, games in sorted order, runs without a score left out."""
    rows = table[(table["method"] == method) & table[column].notna()]
    return [group[column].to_numpy(dtype=float) for _, group in sorted(rows.groupby("game"))]


def aggregate_table(table: pd.DataFrame, methods: list[str], columns: list[str]) -> pd.DataFrame:
    """Per method and score column: IQM and median of the pooled runs, and the mean over games of each game's mean
    with its 95% stratified t-interval."""
    rows = []
    for method in methods:
        for column in columns:
            games = by_game(table, method, column)
            if not games:
                continue
            pooled = np.concatenate(games)
            mean = linear([(1.0 / len(games), runs) for runs in games])
            low, high = mean.interval(0.95)
            rows.append({"method": method, "score": column, "games": len(games), "runs": len(pooled),
                         "iqm": float(iqm(pooled)), "median": float(np.median(pooled)), "mean": mean.value,
                         "mean_ci95_low": low, "mean_ci95_high": high})
    return pd.DataFrame(rows)


def performance_profile(table: pd.DataFrame, method: str, column: str, thresholds: np.ndarray) -> pd.DataFrame:
    """Share of runs scoring above each threshold, each game weighted equally."""
    games = by_game(table, method, column)
    share = np.mean([(runs[:, None] > thresholds).mean(axis=0) for runs in games], axis=0)
    return pd.DataFrame({"threshold": thresholds, "share": share})


def probability_of_improvement(x_games: list[np.ndarray], y_games: list[np.ndarray]) -> np.ndarray:
    """P(X > Y): per game the share of run pairs where X scores higher (ties count half), averaged over games.
    Arrays may carry leading replicate axes: (..., runs)."""
    per_game = []
    for x, y in zip(x_games, y_games):
        difference = x[..., :, None] - y[..., None, :]
        per_game.append(((difference > 0) + 0.5 * (difference == 0)).mean(axis=(-2, -1)))
    return np.mean(per_game, axis=0)


def improvement_table(table: pd.DataFrame, pairs: list[tuple[str, str]], column: str) -> pd.DataFrame:
    """P(X > Y) on the games where both methods have a score in the column."""
    rows = []
    scored = table[table[column].notna()]
    for x, y in pairs:
        shared = sorted(set(scored.loc[scored["method"] == x, "game"]) & set(scored.loc[scored["method"] == y, "game"]))
        if not shared:
            continue
        subset = scored[scored["game"].isin(shared)]
        x_games, y_games = by_game(subset, x, column), by_game(subset, y, column)
        rows.append({"x": x, "y": y, "score": column, "games": len(x_games),
                     "probability": float(probability_of_improvement(x_games, y_games))})
    # With one method (or no shared game) there is no comparison: an empty table that still has its columns.
    return pd.DataFrame(rows, columns=["x", "y", "score", "games", "probability"])
