"""The game × method score table (CSV, Markdown, LaTeX): initial, last-window and final scores as mean and 95% CI over
seeds, the final score as a percentage of the demonstrator, the suite's baselines, and the published number beside
ours where one exists."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .scores import SCORES
from .stats import mean_ci

LABELS = {"initial": "initial", "last_window": "last window", "final": "final"}


def published_scores(published: pd.DataFrame) -> pd.DataFrame:
    """One published score per game and method: a verified number where one exists, else an unverified one."""
    ranked = published.assign(rank=(published["status"] != "verified").astype(int)).sort_values("rank")
    return ranked.drop_duplicates(["game", "method"])[["game", "method", "score", "metric", "status"]].rename(
        columns={"score": "published", "metric": "published_metric", "status": "published_status"})


def scores_table(scores: pd.DataFrame, published: pd.DataFrame | None = None) -> pd.DataFrame:
    rows = []
    for (game, method), group in scores.groupby(["game", "method"], sort=False):
        group = group.sort_values("seed")
        row = {"game": game, "method": method, "seeds": len(group)}
        for score in SCORES:
            row[f"{score}_mean"], row[f"{score}_ci95_low"], row[f"{score}_ci95_high"] = mean_ci(group[score])
            row[f"{score}_per_seed"] = " ".join("–" if np.isnan(v) else f"{v:g}" for v in group[score])
        mean, low, high = mean_ci(100 * group["final_normalised"])
        row.update(percent_of_demonstrator=mean, percent_ci95_low=low, percent_ci95_high=high)
        for column in ["demonstrator_mean", "demonstrator_worst", "demonstrator_best", "random_mean"]:
            row[column] = group[column].iloc[0]
        rows.append(row)
    table = pd.DataFrame(rows)
    if published is not None and len(published) and len(table):
        table = table.merge(published_scores(published), on=["game", "method"], how="left")
    return table


def fmt(value, digits: int = 1) -> str:
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


def with_interval(row, prefix: str, digits: int = 1) -> str:
    mean, low, high = row[f"{prefix}_mean"], row[f"{prefix}_ci95_low"], row[f"{prefix}_ci95_high"]
    return fmt(mean, digits) if pd.isna(low) else f"{fmt(mean, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def cells(row) -> list[str]:
    percent = {"percent_mean": row["percent_of_demonstrator"], "percent_ci95_low": row["percent_ci95_low"],
               "percent_ci95_high": row["percent_ci95_high"]}
    published = row.get("published", np.nan)
    mark = "" if pd.isna(published) or row.get("published_status") == "verified" else "*"
    return ([row["game"], row["method"], str(row["seeds"])]
            + [with_interval(row, score) for score in SCORES]
            + [with_interval(percent, "percent", 0),
               f"{fmt(row['demonstrator_mean'])} ({fmt(row['demonstrator_worst'])}, {fmt(row['demonstrator_best'])})",
               fmt(row["random_mean"]), fmt(published) + mark])


HEADER = (["game", "method", "seeds"] + [f"{LABELS[score]} score" for score in SCORES]
          + ["final, % of demonstrator", "demonstrator mean (worst, best)", "random", "published"])


def notes(window_fraction: float) -> list[str]:
    return [
        f"Scores are raw game scores, mean [95% t-interval] over seeds. Initial: the mean of the episodes a run played "
        f"while learning that ended in its first {window_fraction:.0%} of agent steps (after any pretraining). "
        f"Last window: the same for the run's last {window_fraction:.0%} (a fixed window: the paper's best window is a "
        "maximum over noisy means, biased upward). Final: the mean of "
        "the run's evaluation episodes after training. A method that never interacts is scored by its evaluation in "
        "all three columns.",
        "% of demonstrator: 100·(final − random)/(demonstrator mean − random), with the demonstrator and random play "
        "measured by the suite on the same game (raw ratios mean nothing on games with negative scores).",
        "Published: the DQfD paper's number for the method (Table 1, best 3M-step window over 4 seeds at 200M frames); "
        "* marks an unverified third-party transcription of its no-op-start final score. Budgets here are far smaller.",
    ]


def to_markdown(table: pd.DataFrame, window_fraction: float) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in table.to_dict("records")]
    return "\n".join(lines + [""] + notes(window_fraction)) + "\n"


def latex_escape(text: str) -> str:
    for raw, escaped in [("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                         ("–", "--"), ("·", r"$\cdot$"), ("−", "$-$")]:
        text = text.replace(raw, escaped)
    return re.sub(r"(?<![\w$])-(?=\d)", "$-$", text)  # a minus sign, not a hyphen


def to_latex(table: pd.DataFrame, window_fraction: float) -> str:
    """A booktabs table for a paper; the notes become the caption."""
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{ll r " + "l" * (len(HEADER) - 3) + "}", r"\toprule",
             " & ".join(latex_escape(name) for name in HEADER) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(cell) for cell in cells(row)) + r" \\" for row in table.to_dict("records")]
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + latex_escape(" ".join(notes(window_fraction))) + "}", r"\label{tab:scores}",
              r"\end{table}"]
    return "\n".join(lines) + "\n"
