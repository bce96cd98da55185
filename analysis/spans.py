"""How much the normalisation's own uncertainty moves the ledger's across-game differences.

Across games the ledger averages differences in units of each game's span, demonstrator mean − random mean
(analysis/claims.py). Both means are measured, from a handful of episodes, and the ledger takes the spans as fixed: its
estimand is the difference in units of the spans as measured. This module measures what that choice leaves out, by
simulation on a results folder's own records: every sample mean (a method's seeds, the demonstrator's episodes, random
play's episodes) moves by a normal draw of its own standard error, and the across-game difference is recomputed twice,
once with the spans as measured and once with the spans from the moved demonstrator and random means. The ratio of
the two spreads says how much wider the interval would be with the spans' uncertainty in it (above 1), or narrower
(below 1: where the demonstrator is a side of the claim, its own uncertainty cancels in part against the unit it sets).

Spreads are robust, half the central 95% of the draws over z₀.₉₇₅, because a span measured near 0 makes a ratio with
no finite variance; the share of draws in which some span falls to a tenth of its measured value or below is reported
as the sign that the normalisation itself is unstable.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .claims import CLAIMS, DEMONSTRATOR, PUBLISHED, SHARES, Ledger, Side
from .scores import span

DRAWS = 2000
UNSTABLE = 0.1  # a span drawn at a tenth of its measured value or less: a unit that no longer means anything
Z = float(stats.norm.ppf(0.975))


def standard_error(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def robust_spread(values: np.ndarray) -> float:
    low, high = np.quantile(values, [0.025, 0.975])
    return float((high - low) / (2 * Z))


def sensitivity(ledger: Ledger, random_episodes: pd.DataFrame, draws: int = DRAWS, seed: int = 0) -> pd.DataFrame:
    """Per tested claim of `ledger` (every one with an interval across games): its difference, the spread of the
    difference with the spans fixed and with them drawn, their ratio, and the share of draws with an unstable span.

    The difference is Σ over games and sides of ±(mean − offset)/(unit·G), as the ledger computes it
    (Ledger.compare): the offsets (random's mean) cancel between two levels, so each term is ±mean/(unit·G), with the
    unit the game's span, or 1 for a share. Each draw moves every mean, and the spans with the demonstrator's and
    random play's means; the demonstrator's move is the same as a side and as the span's end."""
    rng = np.random.default_rng(seed)
    random_error = {game: standard_error(group["score"].to_numpy(dtype=float))
                    for game, group in random_episodes.groupby("game")}
    rows = []
    for claim in CLAIMS:
        if PUBLISHED in (claim.left.score, claim.right.score):
            continue
        games = ledger.games(claim)
        if not games:
            continue
        estimate = ledger.compare(claim, games, normalised=True)["_estimate"]
        if not (np.isfinite(estimate.value) and np.isfinite(estimate.standard_error)):
            continue
        count = len(games)
        demonstrator_moves = rng.normal(0.0, [standard_error(ledger.sample(Side(None, DEMONSTRATOR), game))
                                              for game in games], (draws, count))
        random_moves = rng.normal(0.0, [random_error.get(game, 0.0) for game in games], (draws, count))
        spans = span(ledger.baselines, games)
        drawn_spans = spans + demonstrator_moves - random_moves
        fixed, drawn = np.zeros(draws), np.zeros(draws)
        for sign, side in ((1.0, claim.left), (-1.0, claim.right)):
            means = np.array([np.nanmean(ledger.sample(side, game)) for game in games])
            if side.method is None:
                moves = demonstrator_moves
            else:
                moves = rng.normal(0.0, [standard_error(ledger.sample(side, game)) for game in games],
                                   (draws, count))
            normalised = side.score not in SHARES
            fixed += (sign * (means + moves) / (spans if normalised else 1.0)).sum(axis=1) / count
            drawn += (sign * (means + moves) / (drawn_spans if normalised else 1.0)).sum(axis=1) / count
        spread_fixed, spread_drawn = robust_spread(fixed), robust_spread(drawn)
        rows.append({"claim": claim.key, "games": count, "difference": estimate.value,
                     "standard_error": estimate.standard_error, "spread_fixed_spans": spread_fixed,
                     "spread_drawn_spans": spread_drawn, "ratio": spread_drawn / spread_fixed,
                     "unstable_share": float((drawn_spans <= UNSTABLE * spans).any(axis=1).mean())})
    return pd.DataFrame(rows)


def to_markdown(table: pd.DataFrame, draws: int) -> str:
    lines = [f"{draws} draws per claim: the spread of the across-game difference (normalised units) with the spans as "
             "measured and with them drawn, their ratio, and the share of draws in which some game's span fell to a "
             f"tenth of its measured value or below:", "",
             "| claim | games | difference | ledger's standard error | spread, spans fixed | spread, spans drawn | ratio "
             "| unstable spans |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['claim']} | {row['games']} | {row['difference']:+.3f} | {row['standard_error']:.3f} | "
              f"{row['spread_fixed_spans']:.3f} | {row['spread_drawn_spans']:.3f} | {row['ratio']:.2f} | "
              f"{100 * row['unstable_share']:.1f}% |" for row in table.to_dict("records")]
    return "\n".join(lines) + "\n"
