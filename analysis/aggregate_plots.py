"""Figures of the across-game statistics: interval estimates, performance profiles, probability of improvement."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .aggregate import NOT_NORMALISED
from .style import method_colours, save, theme

SCORE_LABELS = {"initial_normalised": "initial score", "last_window_normalised": "last-window score",
                "final_normalised": "final score"}


def say_instead(out, text: str) -> None:
    """A figure that says why there is nothing to draw, rather than failing the workflow."""
    figure, ax = plt.subplots(figsize=(7, 1.6))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    save(figure, out)


def plot_intervals(aggregates: pd.DataFrame, methods: list[str], out) -> None:
    """Rows: score (initial, final, ...); columns: IQM, median, mean; one 95% interval per method."""
    theme()
    if aggregates.empty:
        say_instead(out, f"across-game intervals: {NOT_NORMALISED}")
        return
    colours = method_colours(methods)
    scores = [score for score in SCORE_LABELS if score in set(aggregates["score"])]
    present = [method for method in methods if method in set(aggregates["method"])]
    figure, axes = plt.subplots(len(scores), 3, figsize=(11, 0.45 * len(present) * len(scores) + 1.6),
                                squeeze=False, sharey=True)
    for row, score in enumerate(scores):
        table = aggregates[aggregates["score"] == score].set_index("method")
        for column, statistic in enumerate(["iqm", "median", "mean"]):
            ax = axes[row, column]
            for position, method in enumerate(present):
                if method not in table.index:
                    continue
                item = table.loc[method]
                if f"{statistic}_ci95_low" in item:  # only the mean has an interval that holds its coverage
                    ax.plot([item[f"{statistic}_ci95_low"], item[f"{statistic}_ci95_high"]], [position, position],
                            color=colours[method], linewidth=6, alpha=0.6, solid_capstyle="butt")
                ax.plot(item[statistic], position, "o", color=colours[method], markeredgecolor="black", markersize=6)
            for reference, label in [(0, "random"), (1, "demonstrator")]:
                ax.axvline(reference, color="grey", linestyle="--" if reference else "-.", linewidth=1)
            ax.set_yticks(range(len(present)), present)
            ax.set_ylim(len(present) - 0.5, -0.5)  # the config's first method on top
            ax.set_title(f"{statistic.upper() if statistic == 'iqm' else statistic} — {SCORE_LABELS[score]}",
                         fontsize=10)
            ax.set_xlabel("demonstrator-normalised score")
    figure.suptitle("Across games: IQM and median of the pooled runs; mean over games with its 95% stratified "
                    "t-interval (0 = random play, 1 = demonstrator mean)", y=1.0)
    figure.tight_layout()
    save(figure, out)


def plot_profiles(profiles: pd.DataFrame, methods: list[str], out) -> None:
    theme()
    if profiles.empty:
        say_instead(out, f"performance profiles: {NOT_NORMALISED}")
        return
    colours = method_colours(methods)
    figure, ax = plt.subplots(figsize=(7, 4.5))
    for method in methods:
        curve = profiles[profiles["method"] == method]
        if curve.empty:
            continue
        ax.plot(curve["threshold"], curve["share"], color=colours[method], linewidth=2, label=method,
                drawstyle="steps-post")
    for reference in (0, 1):
        ax.axvline(reference, color="grey", linestyle="--" if reference else "-.", linewidth=1)
    ax.set_xlabel("threshold on the demonstrator-normalised final score (0 = random, 1 = demonstrator)")
    ax.set_ylabel("share of runs scoring above it")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Performance profiles: each game weighted equally")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(4, len(methods)), frameon=False, fontsize=9)
    figure.tight_layout()
    save(figure, out)


def plot_improvement(improvement: pd.DataFrame, methods: list[str], out) -> None:
    theme()
    if improvement.empty:  # a matrix of one method, or one without demonstrations
        say_instead(out, "probability of improvement: the matrix has no pair of methods with normalised scores to "
                         "compare")
        return
    colours = method_colours(methods)
    scores = [score for score in SCORE_LABELS if score in set(improvement["score"])]
    pairs = improvement[["x", "y"]].drop_duplicates().values.tolist()
    figure, axes = plt.subplots(1, len(scores), figsize=(5 * len(scores), 0.5 * len(pairs) + 1.6), squeeze=False,
                                sharey=True)
    for ax, score in zip(axes[0], scores):
        table = improvement[improvement["score"] == score]
        for position, (x, y) in enumerate(pairs):
            item = table[(table["x"] == x) & (table["y"] == y)]
            if item.empty:
                continue
            item = item.iloc[0]
            ax.plot(item["probability"], position, "o", color=colours[y], markeredgecolor="black", markersize=6)
        ax.axvline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.set_xlim(-0.02, 1.02)
        ax.set_yticks(range(len(pairs)), [f"P({x} > {y})" for x, y in pairs])
        ax.set_ylim(len(pairs) - 0.5, -0.5)
        ax.set_xlabel("probability of improvement")
        ax.set_title(SCORE_LABELS[score], fontsize=10)
    figure.suptitle("Probability of improvement over the games both ran", y=1.0)
    figure.tight_layout()
    save(figure, out)


def thresholds(table: pd.DataFrame, column: str = "final_normalised") -> np.ndarray:
    values = table[column].dropna()
    high = max(1.5, float(values.max()) if len(values) else 1.5)
    low = min(-0.25, float(values.min()) if len(values) else -0.25)
    return np.linspace(low, high, 101)
