"""One row per run with the scores every table, aggregate and claim is built from.

- initial: mean raw score of the learning episodes that end in the first window of the run's interaction;
- last_window: the same for the last window of the run's interaction. The DQfD paper reports its best window, the
  best of many window means; a maximum over noisy means is biased upward (on Freeway the best of the two windows
  added 1.2 points over the best demonstration episode by itself), so the suite reports a fixed, declared window;
- final: mean raw score of the run's evaluation episodes after training;
- transition_change: for a method whose demonstration phase ends during interaction (soft-Q's N_p), the window mean
  just after that point minus the window mean just before it.

A method that never interacts has one policy, so its evaluation score stands for all three scores.
Each score is also demonstrator-normalised: (score − random) / (demonstrator mean − random), both baselines measured by
the suite on the same game.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SCORES = ["initial", "last_window", "final"]
KEYS = ["game", "method", "seed"]


def window_means(steps: np.ndarray, returns: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mean return of the episodes that end in each window (start, end]; NaN where none does."""
    means = np.full(len(edges) - 1, np.nan)
    for index, (start, end) in enumerate(zip(edges[:-1], edges[1:])):
        inside = (steps > start) & (steps <= end)
        if inside.any():
            means[index] = returns[inside].mean()
    return means


def run_scores(run: pd.Series, played: pd.DataFrame, window_fraction: float) -> dict:
    horizon = int(run["agent_steps"])
    if horizon == 0:
        final = run["eval_score_mean"]
        return {"initial": final, "last_window": final, "final": final, "transition_change": np.nan}
    width = window_fraction * horizon
    steps, returns = played["agent_step"].to_numpy(), played["episode_return"].to_numpy(dtype=float)
    count = int(np.ceil(1.0 / window_fraction - 1e-9))
    windows = window_means(steps, returns, np.minimum(np.arange(count + 1) * width, horizon))
    demo_phase = int(run.get("demo_phase_end", 0) or 0)
    change = np.nan
    if 0 < demo_phase < horizon:
        before, after = window_means(steps, returns, np.array([demo_phase - width, demo_phase, demo_phase + width]))
        change = after - before
    return {"initial": windows[0],
            "last_window": windows[-1],
            "final": run["eval_score_mean"], "transition_change": change}


def baselines(demonstrators: pd.DataFrame, random: pd.DataFrame) -> pd.DataFrame:
    """Per game: the demonstrator's mean, worst and best episode, and random play's mean, as measured by the suite."""
    demo = demonstrators.groupby("game")["score"].agg(
        demonstrator_mean="mean", demonstrator_worst="min", demonstrator_best="max")
    return demo.join(random.groupby("game")["score"].mean().rename("random_mean"), how="outer")


def per_game(scores: pd.DataFrame) -> pd.DataFrame:
    """The game baselines carried by the tidy run table, one row per game."""
    return scores.groupby("game")[["demonstrator_mean", "demonstrator_worst", "demonstrator_best",
                                   "random_mean"]].first()


def span(game_baselines: pd.DataFrame, games) -> np.ndarray:
    """demonstrator − random per game: the unit of a normalised score; NaN where the two coincide or one is missing."""
    rows = game_baselines.reindex(np.asarray(games))
    width = (rows["demonstrator_mean"] - rows["random_mean"]).to_numpy(dtype=float, copy=True)
    width[np.isclose(width, 0.0)] = np.nan
    return width


def normalise(scores, game_baselines: pd.DataFrame, games) -> np.ndarray:
    """(score − random) / (demonstrator − random)."""
    random = game_baselines.reindex(np.asarray(games))["random_mean"].to_numpy(dtype=float)
    return (np.asarray(scores, dtype=float) - random) / span(game_baselines, games)


def score_runs(runs: pd.DataFrame, episodes: pd.DataFrame, demonstrators: pd.DataFrame, random: pd.DataFrame,
               window_fraction: float) -> pd.DataFrame:
    """The tidy run table: one row per run, raw and demonstrator-normalised scores beside the game's baselines."""
    grouped = {key: group for key, group in episodes.groupby(KEYS)} if len(episodes) else {}
    rows = []
    for run in runs.to_dict("records"):
        played = grouped.get(tuple(run[key] for key in KEYS), episodes.iloc[:0])
        rows.append({**{key: run[key] for key in KEYS}, **run_scores(pd.Series(run), played, window_fraction)})
    table = pd.DataFrame(rows, columns=KEYS + SCORES + ["transition_change"])
    game_baselines = baselines(demonstrators, random)
    table = table.join(game_baselines, on="game")
    for score in SCORES:
        table[f"{score}_normalised"] = normalise(table[score], game_baselines, table["game"])
    # A difference of two scores: only its unit changes.
    table["transition_change_normalised"] = table["transition_change"] / span(game_baselines, table["game"])
    return table
