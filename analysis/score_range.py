"""The scores a game can take, which the figures clip intervals to: a 95% t-interval over a few noisy seeds easily
reaches below the lowest possible score (−1,000 on MsPacman, whose score never falls below 0), and a band drawn there
shows scores no run can have.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# Games whose rules fix both ends: the score is the player's points minus the opponent's, and a game ends when one
# side reaches a fixed count (Pong 21 points, Boxing a knock-out at 100 punches, Fishing Derby 99 pounds, Surround 10).
BOUNDS = {"Pong": (-21.0, 21.0), "Boxing": (-100.0, 100.0), "FishingDerby": (-99.0, 99.0), "Surround": (-10.0, 10.0)}
# Games whose score can fall below 0 without a lowest score we can state: the ALE games with a negative score in the
# published random-play or human tables (penalties, time scores, a difference of points). Every other game starts
# at 0 and only ever adds points.
NEGATIVE_UNBOUNDED = {"DoubleDunk", "IceHockey", "JourneyEscape", "Pitfall", "Skiing", "Tennis"}


def score_range(game: str, observed: Iterable[float] = ()) -> tuple[float, float]:
    """The lowest and highest score of `game`: the rules' where BOUNDS states them; else 0 at the bottom (except the
    NEGATIVE_UNBOUNDED games); where the rules give no end, the lowest or highest of `observed` (the episode scores of
    the runs and baselines drawn beside it), the best knowledge there is of what the game allows; ±inf where nothing
    was observed."""
    if game in BOUNDS:
        return BOUNDS[game]
    seen = np.asarray([value for value in observed if np.isfinite(value)], dtype=float)
    low = (seen.min() if len(seen) else -np.inf) if game in NEGATIVE_UNBOUNDED else 0.0
    return float(low), float(seen.max()) if len(seen) else np.inf


def clip_scores(values, limits: tuple[float, float]) -> np.ndarray:
    """`values` (NaN kept) within the game's range."""
    return np.clip(np.asarray(values, dtype=float), *limits)
