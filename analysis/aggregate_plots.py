"""Figures of the across-game statistics: interval estimates, performance profiles, probability of improvement."""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .aggregate import NOT_NORMALISED
from .style import collect_legend, legend_below, message_figure, method_style, new_figure, save

SCORE_LABELS = {"initial_normalised": "initial score", "best_window_normalised": "best-window score",
                "final_normalised": "final score"}
ROW = 0.17  # inches per method (or pair) in a panel of intervals
NARROW = 5.0  # inches: below this width panels that sit side by side at double width are stacked
NORMALISED = "demonstrator-normalised score (0 = random play, 1 = demonstrator mean)"
NORMALISED_SHORT = "normalised score (0 random play, 1 demonstrator)"


def draw_estimate(ax, position: float, estimate: float, method: str, interval=None) -> None:
    """A point estimate as the method's marker; with a (low, high) 95% interval, that as a bar in its colour."""
    style = method_style(method)
    if interval is not None:
        ax.plot(list(interval), [position, position], color=style["color"], linewidth=4, alpha=0.55,
                solid_capstyle="butt")
    ax.plot(estimate, position, marker=style["marker"], color=style["color"], markeredgecolor="black",
            markeredgewidth=0.5, markersize=4.5, linestyle="none")


def mark_references(ax, references=((0, "-."), (1, "--"))) -> None:
    """Vertical lines at (value, line style): by default 0, random play, and 1, the demonstrator's mean."""
    for value, style in references:
        ax.axvline(value, color="0.4", linestyle=style, linewidth=0.8, zorder=0)


def intervals_figure(aggregates: pd.DataFrame, methods: list[str], width: float):
    """Rows: score (initial, final, ...); columns: IQM, median, mean; per method its estimate, and for the mean its
    95% stratified t-interval (the IQM's and median's bootstrap intervals do not hold their coverage here)."""
    if aggregates.empty:
        return message_figure(f"Across-game intervals: {NOT_NORMALISED}.", width)
    scores = [score for score in SCORE_LABELS if score in set(aggregates["score"])]
    present = [method for method in methods if method in set(aggregates["method"])]
    figure, axes = new_figure(width, len(scores) * (ROW * len(present) + 0.5) + 0.3, nrows=len(scores), ncols=3,
                              sharey=True, sharex=True)
    for row, score in enumerate(scores):
        table = aggregates[aggregates["score"] == score].set_index("method")
        for column, statistic in enumerate(["iqm", "median", "mean"]):
            ax = axes[row, column]
            for position, method in enumerate(present):
                if method in table.index:
                    item = table.loc[method]
                    bounds = (f"{statistic}_ci95_low", f"{statistic}_ci95_high")
                    draw_estimate(ax, position, item[statistic], method,
                                  (item[bounds[0]], item[bounds[1]]) if bounds[0] in item else None)
            mark_references(ax)
            ax.set_yticks(range(len(present)), present)
            ax.set_ylim(len(present) - 0.5, -0.5)  # the config's first method on top
            # steps that land on 1, the demonstrator (without 3: ticks at 0.3, 0.6, 0.9 miss it)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=3 if width < NARROW else 5, steps=[1, 2, 2.5, 5, 10]))
            if row == 0:
                ax.set_title("IQM" if statistic == "iqm" else statistic)
            if column == 0:
                ax.set_ylabel(SCORE_LABELS[score])
    figure.supxlabel(NORMALISED if width >= NARROW else NORMALISED_SHORT)
    return figure


def plot_intervals(aggregates: pd.DataFrame, methods: list[str], out) -> None:
    save(lambda width: intervals_figure(aggregates, methods, width), out)


def profiles_figure(profiles: pd.DataFrame, methods: list[str], width: float):
    if profiles.empty:
        return message_figure(f"Performance profiles: {NOT_NORMALISED}.", width)
    height = min(0.5 * width, 2.6) + 0.4
    figure, axes = new_figure(width, height)
    ax = axes[0, 0]
    for method in methods:
        curve = profiles[profiles["method"] == method]
        if curve.empty:
            continue
        style = method_style(method)
        ax.plot(curve["threshold"], curve["share"], color=style["color"], linestyle=style["linestyle"], label=method,
                drawstyle="steps-post")
    mark_references(ax)
    ax.set_xlabel("threshold τ on the demonstrator-normalised final score (0 = random play, 1 = demonstrator mean)"
                  if width >= NARROW else "normalised final score τ (0 random play, 1 demonstrator)")
    ax.set_ylabel("share of runs above τ")
    ax.set_ylim(-0.02, 1.02)
    legend = legend_below(figure, *collect_legend([ax]))
    figure.set_figheight(height + legend)
    return figure


def plot_profiles(profiles: pd.DataFrame, methods: list[str], out) -> None:
    save(lambda width: profiles_figure(profiles, methods, width), out)


def improvement_figure(improvement: pd.DataFrame, width: float):
    """One panel per score (side by side, stacked at column width): per pair of methods the probability that the
    first scores higher, coloured as the second."""
    if improvement.empty:  # a matrix of one method, or one without demonstrations
        return message_figure("Probability of improvement: the matrix has no pair of methods with normalised scores "
                              "to compare.", width)
    scores = [score for score in SCORE_LABELS if score in set(improvement["score"])]
    pairs = improvement[["x", "y"]].drop_duplicates().values.tolist()
    stacked = width < NARROW
    rows, columns = (len(scores), 1) if stacked else (1, len(scores))
    figure, axes = new_figure(width, rows * (ROW * len(pairs) + 0.45) + 0.3, nrows=rows, ncols=columns,
                              sharey=True, sharex=True)
    for ax, score in zip(axes.flat, scores):
        table = improvement[improvement["score"] == score]
        for position, (x, y) in enumerate(pairs):
            item = table[(table["x"] == x) & (table["y"] == y)]
            if not item.empty:
                item = item.iloc[0]
                draw_estimate(ax, position, item["probability"], y)
        mark_references(ax, [(0.5, "--")])
        ax.set_xlim(-0.02, 1.02)
        ax.set_yticks(range(len(pairs)), [f"P({x} > {y})" for x, y in pairs])
        ax.set_ylim(len(pairs) - 0.5, -0.5)
        ax.set_title(SCORE_LABELS[score])
    figure.supxlabel("probability of improvement")
    return figure


def plot_improvement(improvement: pd.DataFrame, out) -> None:
    save(lambda width: improvement_figure(improvement, width), out)


def thresholds(table: pd.DataFrame, column: str = "final_normalised") -> np.ndarray:
    values = table[column].dropna()
    high = max(1.5, float(values.max()) if len(values) else 1.5)
    low = min(-0.25, float(values.min()) if len(values) else -0.25)
    return np.linspace(low, high, 101)
