"""The game × method score table (CSV, Markdown, LaTeX): initial, last-window and final scores as mean and 95% CI over
seeds, the final score as a percentage of the demonstrator, the suite's baselines, and the published number beside
ours where one exists; and of the final evaluations' episodes, how many were distinct and how many reached the time
limit (marked † on the final score, with a note that counts them). With the workflow's `anchors`, the published Atari
100k scores of the table's games (analysis/anchors.py) as context: a column anchor_<agent> per agent in the CSV, and a
table of their own under the Markdown and LaTeX tables, which says that their protocols differ."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .anchors import context_columns
from .anchors import to_latex as anchors_latex
from .anchors import to_markdown as anchors_markdown
from .scores import SCORES
from .stats import mean_ci

LABELS = {"initial": "initial", "last_window": "last window", "final": "final"}
TIME_LIMIT_MARK, SCORE_LENGTH_MARK = "†", "‡"


def evaluation_counts(group: pd.DataFrame) -> dict:
    """A game × method's final-evaluation episodes over its seeds: how many, how many reached the time limit, how many
    were distinct (each run's distinct episodes, summed), and how they were told apart: by no-op start, by (score,
    length) pair (records without a no-op column, protocols without no-op starts), or both, run by run."""
    def total(column):
        values = group[column] if column in group else pd.Series(dtype=float)
        return int(values.sum()) if values.notna().all() and len(values) else np.nan

    ways = set(group["eval_distinct_by"].dropna()) if "eval_distinct_by" in group else set()
    distinct = group["eval_distinct_episodes"] if "eval_distinct_episodes" in group else pd.Series(dtype=float)
    return {"eval_episodes": total("eval_episodes"), "eval_time_limit_episodes": total("eval_time_limit_episodes"),
            "eval_distinct_episodes": total("eval_distinct_episodes"),
            "eval_distinct_per_seed": " ".join("–" if pd.isna(v) else f"{v:g}" for v in distinct),
            "eval_distinct_by": "+".join(sorted(ways)) if ways else np.nan}


def published_scores(published: pd.DataFrame) -> pd.DataFrame:
    """One published score per game and method: a verified number where one exists, else an unverified one."""
    ranked = published.assign(rank=(published["status"] != "verified").astype(int)).sort_values("rank")
    return ranked.drop_duplicates(["game", "method"])[["game", "method", "score", "metric", "status"]].rename(
        columns={"score": "published", "metric": "published_metric", "status": "published_status"})


def scores_table(scores: pd.DataFrame, published: pd.DataFrame | None = None,
                 anchors: pd.DataFrame | None = None) -> pd.DataFrame:
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
        row.update(evaluation_counts(group))
        rows.append(row)
    table = pd.DataFrame(rows)
    if published is not None and len(published) and len(table):
        table = table.merge(published_scores(published), on=["game", "method"], how="left")
    if anchors is not None and len(table):
        table = context_columns(table, anchors)
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
    time_limit = TIME_LIMIT_MARK if row.get("eval_time_limit_episodes", 0) > 0 else ""
    return ([row["game"], row["method"], str(row["seeds"])]
            + [with_interval(row, score) + (time_limit if score == "final" else "") for score in SCORES]
            + [distinct_cell(row), with_interval(percent, "percent", 0),
               f"{fmt(row['demonstrator_mean'])} ({fmt(row['demonstrator_worst'])}, {fmt(row['demonstrator_best'])})",
               fmt(row["random_mean"]), fmt(published) + mark])


def distinct_cell(row) -> str:
    """'23 of 25' distinct evaluation episodes, ‡ where told apart by (score, length) pair."""
    distinct, episodes = row.get("eval_distinct_episodes", np.nan), row.get("eval_episodes", np.nan)
    if pd.isna(distinct) or pd.isna(episodes):
        return "–"
    by_score = SCORE_LENGTH_MARK if "score_length" in str(row.get("eval_distinct_by", "")) else ""
    return f"{distinct:.0f} of {episodes:.0f}{by_score}"


HEADER = (["game", "method", "seeds"] + [f"{LABELS[score]} score" for score in SCORES]
          + ["distinct evaluation episodes", "final, % of demonstrator", "demonstrator mean (worst, best)", "random",
             "published"])


def evaluation_notes(table: pd.DataFrame | None) -> list[str]:
    """What the distinct-episode column counts, and a † line per game × method whose evaluations reached the time
    limit."""
    if table is None or "eval_distinct_episodes" not in table:
        return []
    lines = [
        "Distinct evaluation episodes: the number of different starts (no-op counts) among each seed's final "
        "evaluation episodes, summed over seeds, of all their episodes; the ALE is deterministic, so without sticky "
        "actions two episodes with the same no-op start play alike but for eval_epsilon's random actions. "
        f"{SCORE_LENGTH_MARK}: counted as "
        "distinct (score, length) pairs instead, for records without a no-op column (written before each evaluation "
        "episode had a no-op start of its own) or a protocol without no-op starts (sticky actions vary its "
        "episodes); two episodes that differ but end with the same score and length count once."]
    for row in table.to_dict("records"):
        if row.get("eval_time_limit_episodes", 0) > 0:
            lines.append(f"{TIME_LIMIT_MARK} {row['game']}, {row['method']}: {row['eval_time_limit_episodes']:.0f} of "
                         f"{row['eval_episodes']:.0f} evaluation episodes reached the time limit (max_episode_frames),"
                         " so their scores are cut short.")
    return lines


def notes(window_fraction: float, table: pd.DataFrame | None = None) -> list[str]:
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
        *evaluation_notes(table),
    ]


def games(table: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(table["game"])) if "game" in table else []


def to_markdown(table: pd.DataFrame, window_fraction: float, anchors: pd.DataFrame | None = None,
                missing: str = "") -> str:
    """The table and its notes, then `missing` (the line on cells without a run), then the anchors, where given."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in table.to_dict("records")]
    text = "\n".join(lines + [""] + notes(window_fraction, table)) + "\n" + missing
    return text if anchors is None else f"{text}\n{anchors_markdown(anchors, games(table))}"


def latex_escape(text: str) -> str:
    for raw, escaped in [("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"), ("#", r"\#"),
                         ("–", "--"), ("·", r"$\cdot$"), ("−", "$-$"), (TIME_LIMIT_MARK, r"\textsuperscript{\dag}"),
                         (SCORE_LENGTH_MARK, r"\textsuperscript{\ddag}")]:
        text = text.replace(raw, escaped)
    return re.sub(r"(?<![\w$])-(?=\d)", "$-$", text)  # a minus sign, not a hyphen


def to_latex(table: pd.DataFrame, window_fraction: float, anchors: pd.DataFrame | None = None) -> str:
    """A booktabs table for a paper; the notes become the caption. With `anchors`, their table after it."""
    lines = [r"\begin{table}[t]", r"\centering", r"\small",
             r"\begin{tabular}{ll r " + "l" * (len(HEADER) - 3) + "}", r"\toprule",
             " & ".join(latex_escape(name) for name in HEADER) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(cell) for cell in cells(row)) + r" \\" for row in table.to_dict("records")]
    lines += [r"\bottomrule", r"\end{tabular}",
              r"\caption{" + latex_escape(" ".join(notes(window_fraction, table))) + "}", r"\label{tab:scores}",
              r"\end{table}"]
    text = "\n".join(lines) + "\n"
    context = "" if anchors is None else anchors_latex(anchors, games(table))
    return f"{text}\n{context}" if context else text
