"""The game × method score table: final evaluation score, mean and 95% CI over seeds, beside the demonstrator."""
from __future__ import annotations

import pandas as pd

from .stats import mean_ci


def demonstrator_scores(demonstrators: pd.DataFrame) -> pd.DataFrame:
    return demonstrators.groupby("game")["score"].agg(
        demonstrator_mean="mean", demonstrator_best="max", demonstrator_worst="min"
    ).reset_index()


def scores_table(runs: pd.DataFrame, demonstrators: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (game, method), group in runs.groupby(["game", "method"], sort=False):
        mean, low, high = mean_ci(group["eval_score_mean"])
        rows.append({"game": game, "method": method, "seeds": len(group), "score_mean": mean,
                     "ci95_low": low, "ci95_high": high,
                     "per_seed": " ".join(f"{score:g}" for score in group.sort_values("seed")["eval_score_mean"])})
    table = pd.DataFrame(rows)
    if len(demonstrators):
        table = table.merge(demonstrator_scores(demonstrators), on="game", how="left")
    return table


def to_markdown(table: pd.DataFrame) -> str:
    def fmt(value):
        return "–" if pd.isna(value) else f"{value:.1f}"

    lines = ["| game | method | seeds | final score (mean) | 95% CI | per seed | demonstrator mean (worst, best) |",
             "|---|---|---|---|---|---|---|"]
    for row in table.itertuples():
        demo = (f"{fmt(row.demonstrator_mean)} ({fmt(row.demonstrator_worst)}, {fmt(row.demonstrator_best)})"
                if "demonstrator_mean" in table and not pd.isna(row.demonstrator_mean) else "–")
        interval = "–" if pd.isna(row.ci95_low) else f"[{fmt(row.ci95_low)}, {fmt(row.ci95_high)}]"
        lines.append(f"| {row.game} | {row.method} | {row.seeds} | {fmt(row.score_mean)} | {interval} | "
                     f"{row.per_seed} | {demo} |")
    return "\n".join(lines) + "\n\nFinal score: mean raw game score over each run's evaluation episodes; mean and " \
        "t-interval over seeds.\n"
