"""Gather the stored runs of the matrix into tidy tables: one row per run, one row per interaction episode, one row
per demonstration episode. Cells without a complete run are left to `failures.failed_cells`, which lists them."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

EPISODE_COLUMNS = ["agent_step", "update", "episode", "episode_return", "episode_length", "epsilon", "ended_by"]


def read_tables(paths: list[str], columns: list[str]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path) for path in paths], ignore_index=True) if paths else pd.DataFrame(
        columns=columns)


def run_folder(results: str | Path, game: str, method: str, seed: int) -> Path:
    return Path(results) / f"runs/{game}/{method}/seed_{seed}"


def collect(results: str | Path, cells, demo_stats_paths: list[str]):
    runs, episodes = [], []
    for game, method, seed in cells:
        folder = run_folder(results, game, method, seed)
        if not (folder / "summary.json").is_file():  # written last: without it the run is not complete
            continue
        summary = json.loads((folder / "summary.json").read_text())
        demos = summary.pop("demos") or {}
        summary.update({f"demo_{key}": value for key, value in demos.items() if key != "sha256"})
        summary.setdefault("demo_phase_end", 0)  # runs stored before the field existed had no such phase
        summary["run_dir"] = str(folder)
        runs.append(summary)
        progress = pd.read_csv(folder / "progress.csv")
        if "kind" in progress:
            played = progress[progress["kind"] == "episode"]
            played = played[[c for c in EPISODE_COLUMNS if c in played]].assign(game=game, method=method, seed=seed)
            episodes.append(played)
    demonstrators = read_tables(demo_stats_paths, ["game", "demonstrator", "episode", "score", "length", "ended_by"])
    runs = pd.DataFrame(runs, columns=None if runs else ["game", "method", "seed", "agent_steps", "eval_score_mean"])
    runs = runs.sort_values(["game", "method", "seed"]).reset_index(drop=True)
    episodes = pd.concat(episodes, ignore_index=True) if episodes else pd.DataFrame(
        columns=["game", "method", "seed"] + EPISODE_COLUMNS)
    return runs, episodes, demonstrators
