"""Gather run folders into tidy tables: one row per run, one row per interaction episode, one row per demo episode."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd


def read_tables(paths: list[str], columns: list[str]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True) if paths else pd.DataFrame(
        columns=columns)


def collect(summary_paths: list[str], demo_stats_paths: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    runs, episodes = [], []
    for path in map(Path, summary_paths):
        summary = json.loads(path.read_text())
        demos = summary.pop("demos") or {}
        summary.update({f"demo_{key}": value for key, value in demos.items() if key != "sha256"})
        summary["run_dir"] = str(path.parent)
        runs.append(summary)
        progress = pd.read_csv(path.parent / "progress.csv")
        if "kind" in progress:
            played = progress[progress["kind"] == "episode"]
            columns = ["agent_step", "update", "episode", "episode_return", "episode_length", "epsilon", "ended_by"]
            played = played[[c for c in columns if c in played]].assign(
                game=summary["game"], method=summary["method"], seed=summary["seed"]
            )
            episodes.append(played)
    demonstrators = read_tables(demo_stats_paths, ["game", "demonstrator", "episode", "score", "length", "ended_by"])
    runs = pd.DataFrame(runs).sort_values(["game", "method", "seed"]).reset_index(drop=True)
    episodes = pd.concat(episodes, ignore_index=True) if episodes else pd.DataFrame(
        columns=["game", "method", "seed", "agent_step", "episode_return"]
    )
    return runs, episodes, demonstrators
