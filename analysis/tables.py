"""The game × method score table: early-interaction and final scores, mean and 95% CI over seeds, beside the
demonstrator and random play."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .stats import mean_ci


def demonstrator_scores(demonstrators: pd.DataFrame) -> pd.DataFrame:
    return demonstrators.groupby("game")["score"].agg(
        demonstrator_mean="mean", demonstrator_best="max", demonstrator_worst="min"
    ).reset_index()


def early_scores(runs: pd.DataFrame, episodes: pd.DataFrame, early_fraction: float) -> pd.DataFrame:
    """Per run, the mean score of the interaction episodes that end in the first `early_fraction` of its agent
    steps (NaN if none does)."""
    horizon = runs.set_index(["game", "method", "seed"])["agent_steps"]
    played = episodes.join(horizon.rename("horizon"), on=["game", "method", "seed"])
    early = played[played["agent_step"] <= early_fraction * played["horizon"]]
    return early.groupby(["game", "method", "seed"])["episode_return"].mean().rename("early_score").reset_index()


def scores_table(runs: pd.DataFrame, demonstrators: pd.DataFrame, episodes: pd.DataFrame | None = None,
                 random: pd.DataFrame | None = None, early_fraction: float = 0.5) -> pd.DataFrame:
    if episodes is not None and len(episodes):
        runs = runs.merge(early_scores(runs, episodes, early_fraction), on=["game", "method", "seed"], how="left")
    rows = []
    for (game, method), group in runs.groupby(["game", "method"], sort=False):
        group = group.sort_values("seed")
        row = {"game": game, "method": method, "seeds": len(group)}
        if "early_score" in group:
            row["early_mean"], row["early_ci95_low"], row["early_ci95_high"] = mean_ci(group["early_score"])
            row["early_per_seed"] = " ".join("–" if np.isnan(v) else f"{v:.1f}" for v in group["early_score"])
        row["score_mean"], row["ci95_low"], row["ci95_high"] = mean_ci(group["eval_score_mean"])
        row["per_seed"] = " ".join(f"{score:g}" for score in group["eval_score_mean"])
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(demonstrators):
        table = table.merge(demonstrator_scores(demonstrators), on="game", how="left")
    if random is not None and len(random):
        table = table.merge(random.groupby("game")["score"].mean().rename("random_mean").reset_index(),
                            on="game", how="left")
    return table


def to_markdown(table: pd.DataFrame, early_fraction: float = 0.5) -> str:
    def fmt(value):
        return "–" if pd.isna(value) else f"{value:.1f}"

    def interval(low, high):
        return "–" if pd.isna(low) else f"[{fmt(low)}, {fmt(high)}]"

    early = "early_mean" in table
    header = ["game", "method", "seeds"]
    if early:
        header += ["early score (mean)", "95% CI", "per seed"]
    header += ["final score (mean)", "95% CI", "per seed", "demonstrator mean (worst, best)", "random play"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in table.to_dict("records"):
        cells = [row["game"], row["method"], str(row["seeds"])]
        if early:
            cells += [fmt(row["early_mean"]), interval(row["early_ci95_low"], row["early_ci95_high"]),
                      row["early_per_seed"]]
        demo = (f"{fmt(row['demonstrator_mean'])} ({fmt(row['demonstrator_worst'])}, {fmt(row['demonstrator_best'])})"
                if not pd.isna(row.get("demonstrator_mean", np.nan)) else "–")
        cells += [fmt(row["score_mean"]), interval(row["ci95_low"], row["ci95_high"]), row["per_seed"], demo,
                  fmt(row.get("random_mean", np.nan))]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"Early score: mean raw score of the episodes a run played (ε-greedy, while learning) that ended in the first "
        f"{early_fraction:.0%} of its agent steps; DQfD's come after its pretraining. Final score: mean raw score of "
        "the run's evaluation episodes after training. Means and t-intervals are over seeds; – where a method never "
        "interacts or an interval needs a second seed.",
    ]
    return "\n".join(lines + notes) + "\n"
