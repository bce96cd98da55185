"""How much the normalisation's own uncertainty moves the ledger's across-game differences.

Across games the ledger averages differences in units of each game's span, demonstrator mean − random mean
(analysis/claims.py). Both means are measured, from a handful of episodes, and the ledger takes the spans as fixed: its
estimand is the difference in units of the spans as measured. This module measures what that choice leaves out, by
simulation on a results folder's own records: every sample mean (a method's seeds, the demonstrator's episodes, random
play's episodes) moves by a normal draw of its own standard error, the spans with the demonstrator's and random play's
moves, and the across-game difference is recomputed. Its spread against the ledger's standard error (which is the
spread with the spans fixed: the difference is then linear in normal means) says how much wider the interval would be
with the spans' uncertainty in it (above 1), or narrower (below 1: where the demonstrator is a side of the claim, its
own uncertainty cancels in part against the unit it sets).

The spread is robust, half the central 95% of the draws over z₀.₉₇₅, because a span drawn near 0 makes a ratio with
no finite variance. The spans are drawn once per results folder, so that every claim sees the same draws, and the
share of draws in which some game's span falls to a tenth of its measured value or below (or changes sign) is the
folder's: the sign that its normalisation itself is unstable. A reference with fewer than two episodes on a game has
no measured spread and is taken as exact there; the output names such games.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .claims import CLAIMS, DEMONSTRATOR, PUBLISHED, Ledger, Side
from .stats import linear

DRAWS = 20_000  # the robust spread's own Monte Carlo error is then about 1%
UNSTABLE = 0.1  # a span drawn at a tenth of its measured value or less: a unit that no longer means anything
Z = float(stats.norm.ppf(0.975))


def standard_error(values: np.ndarray) -> float:
    """The standard error of a sample's mean, as the ledger computes it; 0 (taken as exact) where it has none (fewer
    than two values)."""
    error = linear([(1.0, values)]).standard_error
    return error if np.isfinite(error) else 0.0


def robust_spread(values: np.ndarray) -> float:
    low, high = np.quantile(values, [0.025, 0.975])
    return float((high - low) / (2 * Z))


def sensitivity(ledger: Ledger, random_episodes: pd.DataFrame, draws: int = DRAWS, seed: int = 0) -> dict:
    """For `ledger`'s tested claims (each with an interval across games, a claim on the same numbers as an earlier
    one counted once, as the ledger does): `claims`, a table of each claim's difference, the ledger's standard error,
    the spread of the difference with the spans drawn and the ratio of the two; `unstable`, the share of draws in
    which some game's span fell to UNSTABLE of its measured value or below; `exact`, the games whose demonstrator or
    random play has fewer than two episodes.

    The difference is Σ over games and sides of ±(mean − offset)/(unit·G), as the ledger computes it
    (Ledger.compare, Ledger.scale): the unit is the game's span (1 for a share), the offset random play's mean for a
    score level (0 for a change or a share). Each draw moves every mean; the demonstrator's move is the same as a side
    and as the span's end, random play's the same as the span's end and as an offset."""
    rng = np.random.default_rng(seed)
    games = list(ledger.baselines.index)
    demonstrator = [ledger.sample(Side(None, DEMONSTRATOR), game) for game in games]
    random = [random_episodes.loc[random_episodes["game"] == game, "score"].to_numpy(dtype=float) for game in games]
    measured = pd.Series(ledger.scale(Side(None, DEMONSTRATOR), games, True)[0], index=games)
    exact = [game for game, own, play in zip(games, demonstrator, random) if np.isfinite(measured[game])
             and (np.isfinite(own).sum() < 2 or np.isfinite(play).sum() < 2)]
    demonstrator_moves = pd.DataFrame(rng.normal(0.0, [standard_error(x) for x in demonstrator], (draws, len(games))),
                                      columns=games)
    random_moves = pd.DataFrame(rng.normal(0.0, [standard_error(x) for x in random], (draws, len(games))),
                                columns=games)
    drawn_spans = measured + demonstrator_moves - random_moves
    rows, tests = [], set()
    for claim in CLAIMS:
        if PUBLISHED in (claim.left.score, claim.right.score):
            continue
        games_of_claim = ledger.games(claim)
        if not games_of_claim:
            continue
        estimate = ledger.compare(claim, games_of_claim, normalised=True)["_estimate"]
        signature = ledger.signature(claim, games_of_claim)
        if not (np.isfinite(estimate.value) and np.isfinite(estimate.standard_error)) or signature in tests:
            continue
        tests.add(signature)
        count, difference = len(games_of_claim), np.zeros(draws)
        for sign, side in ((1.0, claim.left), (-1.0, claim.right)):
            unit, offset = ledger.scale(side, games_of_claim, True)
            samples = [ledger.sample(side, game) for game in games_of_claim]
            means = np.array([np.nanmean(sample) for sample in samples])
            moves = (demonstrator_moves[games_of_claim].to_numpy() if side.method is None else
                     rng.normal(0.0, [standard_error(sample) for sample in samples], (draws, count)))
            spans = drawn_spans[games_of_claim].to_numpy()
            drawn_unit = unit if side.scaling() == "share" else spans
            drawn_offset = offset + random_moves[games_of_claim].to_numpy() if side.scaling() == "level" else offset
            difference += sign * ((means + moves - drawn_offset) / drawn_unit).sum(axis=1) / count
        spread = robust_spread(difference)
        rows.append({"claim": claim.key, "games": count, "difference": estimate.value,
                     "standard_error": estimate.standard_error, "spread_drawn_spans": spread,
                     "ratio": spread / estimate.standard_error if estimate.standard_error > 0 else np.nan})
    unstable = float((drawn_spans.div(measured) <= UNSTABLE).any(axis=1).mean())
    return {"claims": pd.DataFrame(rows), "unstable": unstable, "exact": exact}


def to_markdown(result: dict, draws: int) -> str:
    lines = [f"{draws} draws, the same for every claim: the ledger's standard error of each across-game difference "
             "(normalised units; the spread with the spans fixed), the spread with the spans drawn, and their ratio. "
             f"Some game's span fell to a tenth of its measured value or below in {100 * result['unstable']:.1f}% of "
             "the draws." + (f" Taken as exact (fewer than two episodes of the demonstrator or of random play): "
                             f"{', '.join(result['exact'])}." if result["exact"] else ""), "",
             "| claim | games | difference | ledger's standard error | spread, spans drawn | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {row['claim']} | {row['games']} | {row['difference']:+.3f} | {row['standard_error']:.3f} | "
              f"{row['spread_drawn_spans']:.3f} | {row['ratio']:.2f} |" for row in result["claims"].to_dict("records")]
    return "\n".join(lines) + "\n"
