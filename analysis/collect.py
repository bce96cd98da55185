"""Gather the stored runs of the matrix into tidy tables: one row per run, one row per interaction episode, one row
per demonstration episode, one row per episode of the greedy evaluations along interaction. Cells without a complete
run are left to `failures.failed_cells`, which lists them.

Each run's row also counts its final evaluation's episodes that reached the time limit and its distinct episodes:
distinct no-op starts where eval.csv records them (`noops`), otherwise, for records written before it did or under a
protocol without no-op starts, distinct (score, length) pairs (`eval_distinct_by` says which).
Where the run was evaluated at the end of its pretraining (a rung of `pretrain_eval_updates` at pretrain_updates), its
row holds that evaluation's mean score, `pretrained_score_mean`.

The main comparison (tables, curves, claims) uses the reference demo set and the methods without demonstrations; every
run of a method with demonstrations, on every demo set, goes to the demo sweep as well.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from agents.matrix import NO_DEMOS

EPISODE_COLUMNS = ["agent_step", "update", "episode", "episode_return", "episode_length", "epsilon", "ended_by"]
# interaction_eval.csv (agents/run.py), absent from runs recorded before it existed
GREEDY_COLUMNS = ["agent_step", "update", "episode", "score", "length", "ended_by", "noops", "expert_agreement"]
DISTINCT_BY_NOOPS, DISTINCT_BY_SCORE_LENGTH = "noops", "score_length"


def evaluation_counts(evaluation: pd.DataFrame | None) -> dict:
    """A final evaluation's episodes, those that reached the time limit, and its distinct episodes: by no-op start
    where the record has them, else by (score, length) pair (records without a no-op column, or all starts 0: no no-op
    starts, sticky actions vary the episodes), two different episodes that end alike counting once."""
    if evaluation is None:
        return {"eval_time_limit_episodes": np.nan, "eval_distinct_episodes": np.nan, "eval_distinct_by": None}
    time_limit = (int((evaluation["ended_by"] == "time_limit").sum()) if "ended_by" in evaluation else np.nan)
    if "noops" in evaluation and (evaluation["noops"] > 0).any():
        distinct, by = int(evaluation["noops"].nunique()), DISTINCT_BY_NOOPS
    else:
        distinct, by = len(evaluation.drop_duplicates(["score", "length"])), DISTINCT_BY_SCORE_LENGTH
    return {"eval_time_limit_episodes": time_limit, "eval_distinct_episodes": distinct, "eval_distinct_by": by}


def pretrained_score(folder: Path, pretrain_updates) -> float:
    """Mean score of the run's evaluation at the end of its pretraining, the policy its interaction starts from: the
    rung of its pretraining ladder (pretrain_eval.csv) at pretrain_updates; NaN without one."""
    ladder = folder / "pretrain_eval.csv"
    if not pretrain_updates or not ladder.is_file():
        return np.nan
    ladder = pd.read_csv(ladder)
    scores = ladder.loc[ladder["update"] == pretrain_updates, "score"]
    return float(scores.mean()) if len(scores) else np.nan


def read_tables(paths: list[str], columns: list[str]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True) if paths else pd.DataFrame(
        columns=columns)


def run_folder(results: str | Path, game: str, method: str, demos: str, seed: int) -> Path:
    return Path(results) / f"runs/{game}/{method}/{demos}/seed_{seed}"


def demo_stats(paths: list[str]) -> pd.DataFrame:
    """Per-episode scores of every demo set, named by its file: demos/<game>/<set>.stats.csv."""
    tables = [pd.read_csv(path).assign(demo_set=Path(path).name.removesuffix(".stats.csv")) for path in paths]
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=["game", "demo_set", "demonstrator", "episode", "score", "length", "ended_by", "noise"])


def demo_set_table(stats: pd.DataFrame) -> pd.DataFrame:
    """One row per game and demo set: its source, quality (action noise), quantity and the demonstrations' own scores,
    all read from the values its demo stats record."""
    if stats.empty:
        return pd.DataFrame(columns=["game", "demo_set", "source", "demonstrator", "noise", "episodes",
                                     "transitions", "demo_mean", "demo_worst", "demo_best"])
    return stats.groupby(["game", "demo_set"], sort=False).agg(
        source=("source", "first"), demonstrator=("demonstrator", "first"), noise=("noise", "first"),
        episodes=("episode", "count"), transitions=("length", "sum"), demo_mean=("score", "mean"),
        demo_worst=("score", "min"), demo_best=("score", "max")).reset_index()


def collect(results: str | Path, cells, demo_stats_paths: list[str], reference: str):
    runs, episodes = [], []
    for game, method, demos, seed in cells:
        folder = run_folder(results, game, method, demos, seed)
        if not (folder / "summary.json").is_file():  # written last: without it the run is not complete
            continue
        summary = json.loads((folder / "summary.json").read_text())
        used = summary.pop("demos") or {}
        summary.update({f"demo_{key}": value for key, value in used.items() if key != "sha256"})
        summary.update(demo_set=demos, run_dir=str(folder))
        evaluation = folder / "eval.csv"
        summary.update(evaluation_counts(pd.read_csv(evaluation) if evaluation.is_file() else None))
        summary["pretrained_score_mean"] = pretrained_score(folder, summary.get("pretrain_updates"))
        runs.append(summary)
        if demos not in (reference, NO_DEMOS):
            continue
        progress = pd.read_csv(folder / "progress.csv")
        if "kind" in progress:
            played = progress[progress["kind"] == "episode"]
            # A run that ended no episode has no episode columns at all in its progress table.
            played = played.reindex(columns=EPISODE_COLUMNS).assign(game=game, method=method, seed=seed)
            episodes.append(played)
    stats = demo_stats(demo_stats_paths)
    demonstrators = stats[stats["demo_set"] == reference].drop(columns="demo_set")
    runs = pd.DataFrame(runs, columns=None if runs else ["game", "method", "demo_set", "seed", "agent_steps",
                                                          "eval_score_mean"])
    runs = runs.sort_values(["game", "method", "demo_set", "seed"]).reset_index(drop=True)
    main = runs[runs["demo_set"].isin([reference, NO_DEMOS])].reset_index(drop=True)
    sweep = runs[runs["demo_set"] != NO_DEMOS].reset_index(drop=True)
    episodes = pd.concat(episodes, ignore_index=True) if episodes else pd.DataFrame(
        columns=["game", "method", "seed"] + EPISODE_COLUMNS)
    return main, episodes, demonstrators, demo_set_table(stats), sweep


def interaction_evaluations(results: str | Path, cells, reference: str) -> pd.DataFrame:
    """Every episode of the greedy evaluations along interaction (interaction_eval.csv) of the main comparison's
    complete runs; a run recorded before the record existed, or without such evaluations, has none."""
    tables = []
    for game, method, demos, seed in cells:
        folder = run_folder(results, game, method, demos, seed)
        record = folder / "interaction_eval.csv"
        if demos in (reference, NO_DEMOS) and (folder / "summary.json").is_file() and record.is_file():
            table = pd.read_csv(record)
            tables.append(table.reindex(columns=GREEDY_COLUMNS).assign(game=game, method=method, seed=seed))
    tables = [table for table in tables if len(table)]
    return (pd.concat(tables, ignore_index=True) if tables
            else pd.DataFrame(columns=GREEDY_COLUMNS + ["game", "method", "seed"]))
