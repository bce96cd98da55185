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

Beside them: initial_greedy, the mean score of the greedy evaluations along interaction (interaction_eval.csv,
`interaction_eval_every`) made at agent steps in the initial window, the window of `initial` (each evaluation's mean,
then their mean); NaN for a run with none there (its records predate them, or it was not evaluated along
interaction). A method that never interacts is scored by its evaluation here too. The run's final-evaluation counts
(episodes at the time limit, distinct episodes; analysis/collect.py) are carried along for the score table.

And two columns the claims ledger compares (analysis/claims.py):
- pretrained: the mean score of the evaluation at the end of pretraining (a rung of `pretrain_eval_updates` at
  pretrain_updates, analysis/collect.py), the policy interaction starts from; a method that pretrains and never
  interacts is scored by its final evaluation, which is that policy's. NaN without it.
- expert_agreement: the final evaluation's share of steps on which the agent's action is the demonstrator's, on the
  agent's own states (summary.json's eval_expert_agreement); a share in [0, 1], not a score, so it has no normalised
  column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SCORES = ["initial", "last_window", "final"]
CHANGES = ["transition_change"]  # differences of two scores: normalising one changes only its unit
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
    """demonstrator − random per game: the unit of a normalised score; NaN where one is missing or the demonstrator
    does not score above random play: a span of zero has no scale, and a negative one would turn the game's
    differences around, so that a method better on every game could read as worse across them."""
    rows = game_baselines.reindex(np.asarray(games))
    width = (rows["demonstrator_mean"] - rows["random_mean"]).to_numpy(dtype=float, copy=True)
    width[(width < 0) | np.isclose(width, 0.0)] = np.nan
    return width


def normalise(scores, game_baselines: pd.DataFrame, games) -> np.ndarray:
    """(score − random) / (demonstrator − random)."""
    random = game_baselines.reindex(np.asarray(games))["random_mean"].to_numpy(dtype=float)
    return (np.asarray(scores, dtype=float) - random) / span(game_baselines, games)


def score_runs(runs: pd.DataFrame, episodes: pd.DataFrame, demonstrators: pd.DataFrame, random: pd.DataFrame,
               window_fraction: float, greedy: pd.DataFrame | None = None) -> pd.DataFrame:
    """The tidy run table: one row per run, raw and demonstrator-normalised scores beside the game's baselines.
    `greedy`: the episodes of the runs' greedy evaluations along interaction (analysis/collect.py), if any."""
    grouped = {key: group for key, group in episodes.groupby(KEYS)} if len(episodes) else {}
    rows = []
    for run in runs.to_dict("records"):
        played = grouped.get(tuple(run[key] for key in KEYS), episodes.iloc[:0])
        rows.append({**{key: run[key] for key in KEYS}, **run_scores(pd.Series(run), played, window_fraction)})
    table = pd.DataFrame(rows, columns=KEYS + SCORES + CHANGES)
    game_baselines = baselines(demonstrators, random)
    table = table.join(game_baselines, on="game")
    for score in SCORES:
        table[f"{score}_normalised"] = normalise(table[score], game_baselines, table["game"])
    # A difference of two scores: only its unit changes.
    for change in CHANGES:
        table[f"{change}_normalised"] = table[change] / span(game_baselines, table["game"])
    table = add_greedy_scores(table, runs, greedy, game_baselines, window_fraction)
    return add_pretrained_and_agreement(table, runs, game_baselines)


def add_pretrained_and_agreement(table: pd.DataFrame, runs: pd.DataFrame, game_baselines: pd.DataFrame) -> pd.DataFrame:
    """`table` (one row per run of `runs`, in order) with the pretrained policy's score, raw and normalised, and the
    final evaluation's agreement with the demonstrator."""
    records = runs.to_dict("records")
    table["pretrained"] = [run["eval_score_mean"] if run.get("pretrain_updates") and not run["agent_steps"]
                           else run.get("pretrained_score_mean", np.nan) for run in records]
    table["pretrained_normalised"] = normalise(table["pretrained"], game_baselines, table["game"])
    table["expert_agreement"] = [run.get("eval_expert_agreement", np.nan) for run in records]
    return table


EVALUATION_COUNTS = ["eval_episodes", "eval_time_limit_episodes", "eval_distinct_episodes", "eval_distinct_by"]


def initial_greedy(run: dict, evaluations: pd.DataFrame, window_fraction: float) -> float:
    """Mean score of the greedy evaluations at agent steps in the run's initial window (0, window_fraction · agent
    steps], the window of `initial`: the mean of each evaluation's episodes, then over evaluations. NaN without one."""
    horizon = int(run["agent_steps"])
    if horizon == 0:
        return run["eval_score_mean"]
    if evaluations.empty:
        return np.nan
    inside = evaluations[(evaluations["agent_step"] > 0) & (evaluations["agent_step"] <= window_fraction * horizon)]
    return float(inside.groupby("agent_step")["score"].mean().mean()) if len(inside) else np.nan


def add_greedy_scores(table: pd.DataFrame, runs: pd.DataFrame, greedy: pd.DataFrame | None,
                      game_baselines: pd.DataFrame, window_fraction: float) -> pd.DataFrame:
    """`table` (one row per run of `runs`, in order) with initial_greedy, raw and normalised, and the final
    evaluation's counts."""
    grouped = {key: group for key, group in greedy.groupby(KEYS)} if greedy is not None and len(greedy) else {}
    none = pd.DataFrame(columns=["agent_step", "score"])
    records = runs.to_dict("records")
    table["initial_greedy"] = [initial_greedy(run, grouped.get(tuple(run[key] for key in KEYS), none),
                                              window_fraction) for run in records]
    table["initial_greedy_normalised"] = normalise(table["initial_greedy"], game_baselines, table["game"])
    for column in EVALUATION_COUNTS:
        table[column] = [run.get(column, np.nan) for run in records]
    return table
