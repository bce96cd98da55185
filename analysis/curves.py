"""Learning curves, one panel per game.

- The DQfD paper's view: raw score against agent steps (frames on the top axis), mean over seeds with a 95% CI band,
  the demonstrator's best and worst episode dashed, random play dash-dotted; pretraining happens before step 0.
  A method that never interacts (imitation) is drawn as its evaluation score across the whole axis.
- The soft-Q paper's view: the methods whose demonstration phase ends during interaction (N_p), against agent steps
  relative to that point, so a drop when the demonstrations stop shows at 0.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
import pandas as pd

from .stats import mean_ci
from .style import method_colours, save, theme


# Two seeds give t-intervals 13 times their standard error: light bands keep the means readable through them.
BAND_ALPHA = 0.15
THOUSANDS = FuncFormatter(lambda value, _: f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}")


def binned_curve(episodes: pd.DataFrame, edges: np.ndarray, step: str = "agent_step") -> pd.DataFrame:
    """Per seed, the mean return of the episodes that end in each step bin; then mean and CI over seeds."""
    episodes = episodes.assign(bin=np.clip(np.digitize(episodes[step], edges[1:-1]), 0, len(edges) - 2))
    per_seed = episodes.groupby(["seed", "bin"])["episode_return"].mean().unstack("seed")
    rows = []
    for bin_index, seed_means in per_seed.iterrows():
        mean, low, high = mean_ci(seed_means.to_numpy())
        rows.append({"step": (edges[bin_index] + edges[bin_index + 1]) / 2, "mean": mean, "low": low, "high": high,
                     "seeds": int(seed_means.notna().sum())})
    return pd.DataFrame(rows)


def panel_grid(count: int):
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.9 * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.set_visible(False)
    return figure, list(axes.flat[:count])


def draw_curve(axes, curve: pd.DataFrame, colour, label: str, levels: list) -> None:
    """The mean over seeds as a line with its 95% band; its means join the levels the y-range is fitted to."""
    levels.extend(curve["mean"])
    axes.plot(curve["step"], curve["mean"], color=colour, linewidth=2, marker="o", markersize=3, label=label)
    axes.fill_between(curve["step"], curve["low"], curve["high"], color=colour, alpha=BAND_ALPHA, linewidth=0)


def draw_references(axes, game: str, baselines: pd.DataFrame, levels: list) -> None:
    if game not in baselines.index:
        return
    row = baselines.loc[game]
    for column, label, style, colour in [("demonstrator_best", "demonstrator: best episode", (0, (6, 2)), "black"),
                                         ("demonstrator_worst", "demonstrator: worst episode", (0, (2, 2)), "black"),
                                         ("random_mean", "random play", "-.", "grey")]:
        if not pd.isna(row.get(column, np.nan)):
            levels.append(row[column])
            axes.axhline(row[column], color=colour, linestyle=style, linewidth=1.3, label=label)


def fit_ylim(axes, levels: list) -> None:
    """Fit the y-range to the means and references, so a wide band from two seeds cannot flatten the curves."""
    levels = [level for level in levels if not pd.isna(level)]
    if levels:
        low, high = min(levels), max(levels)
        pad = max(0.15 * (high - low), 1.0)
        axes.set_ylim(low - pad, high + pad)


def shared_legend(figure, axes_list) -> None:
    handles = {}
    for axes in axes_list:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    figure.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, 0.0),
                  ncol=min(3, len(handles)), frameon=False, fontsize=9)


def method_label(method: str, runs: pd.DataFrame) -> str:
    seeds = runs.groupby("game")["seed"].nunique()
    n = str(seeds.min()) if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()}"
    pretrain = int(runs["pretrain_updates"].max())
    if int(runs["agent_steps"].max()) == 0:
        return f"{method} (no interaction: evaluation score; n={n})"
    return f"{method} (n={n}" + (f", {pretrain:,} pretraining updates before step 0)" if pretrain else ")")


def plot_learning_curves(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                         bins: int, out) -> None:
    theme()
    colours, games = method_colours(methods), sorted(runs["game"].unique())
    figure, axes_list = panel_grid(len(games))
    for axes, game in zip(axes_list, games):
        game_runs, levels = runs[runs["game"] == game], []
        horizon = max(int(game_runs["agent_steps"].max()), 1)
        edges = np.linspace(0, horizon, bins + 1)
        for method in methods:
            method_runs = game_runs[game_runs["method"] == method]
            if method_runs.empty:
                continue
            label = method_label(method, runs[runs["method"] == method])
            if int(method_runs["agent_steps"].max()) == 0:
                mean, low, high = mean_ci(method_runs["eval_score_mean"])
                levels.append(mean)
                axes.axhline(mean, color=colours[method], linestyle=":", linewidth=2, label=label)
                if not np.isnan(low):
                    axes.axhspan(low, high, color=colours[method], alpha=BAND_ALPHA / 2)
                continue
            played = episodes[(episodes["game"] == game) & (episodes["method"] == method)]
            if played.empty:
                continue
            draw_curve(axes, binned_curve(played, edges), colours[method], label, levels)
        draw_references(axes, game, baselines, levels)
        if int(game_runs["pretrain_updates"].max()) > 0:
            axes.axvline(0, color="grey", linewidth=3, alpha=0.5)
            axes.annotate("← pretraining", xy=(0, 0.02), xycoords=("data", "axes fraction"), xytext=(4, 0),
                          textcoords="offset points", fontsize=8, color="grey")
        frame_skip = int(game_runs["frame_skip"].max()) if "frame_skip" in game_runs else 4
        top = axes.secondary_xaxis("top", functions=(lambda x, k=frame_skip: x * k, lambda x, k=frame_skip: x / k))
        top.set_xlabel("frames", fontsize=9)
        top.xaxis.set_major_formatter(THOUSANDS)
        axes.xaxis.set_major_formatter(THOUSANDS)
        axes.set_xlim(0, horizon)
        fit_ylim(axes, levels)
        axes.set_xlabel("agent steps")
        axes.set_ylabel("score (raw)")
        axes.set_title(game)
    figure.suptitle("Learning curves: mean over seeds, 95% CI band", y=1.0)
    figure.tight_layout()
    shared_legend(figure, axes_list)
    save(figure, out)


def plot_transition(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                    bins: int, out) -> None:
    """Scores around the end of the demonstration phase (N_p), per method aligned at its own N_p."""
    theme()
    colours = method_colours(methods)
    phased = runs[(runs["demo_phase_end"] > 0) & (runs["agent_steps"] > runs["demo_phase_end"])]
    games = sorted(phased["game"].unique())
    figure, axes_list = panel_grid(len(games))
    for axes, game in zip(axes_list, games):
        levels, game_runs = [], phased[phased["game"] == game]
        start = -int(game_runs["demo_phase_end"].max())
        end = int((game_runs["agent_steps"] - game_runs["demo_phase_end"]).max())
        edges = np.linspace(start, end, bins + 1)
        for method in methods:
            method_runs = game_runs[game_runs["method"] == method]
            if method_runs.empty:
                continue
            played = episodes[(episodes["game"] == game) & (episodes["method"] == method)]
            played = played.assign(relative=played["agent_step"] - int(method_runs["demo_phase_end"].iloc[0]))
            label = f"{method} (N_p = {int(method_runs['demo_phase_end'].iloc[0]):,}; n={len(method_runs)})"
            draw_curve(axes, binned_curve(played, edges, step="relative"), colours[method], label, levels)
        draw_references(axes, game, baselines, levels)
        axes.axvline(0, color="grey", linewidth=3, alpha=0.5)
        axes.annotate("end of pretraining", xy=(0, 0.02), xycoords=("data", "axes fraction"), xytext=(4, 0),
                      textcoords="offset points", fontsize=8, color="grey")
        axes.set_xlim(start, end)
        axes.xaxis.set_major_formatter(THOUSANDS)
        fit_ylim(axes, levels)
        axes.set_xlabel("agent steps after the end of pretraining (N_p)")
        axes.set_ylabel("score (raw)")
        axes.set_title(game)
    figure.suptitle("Around the end of pretraining: mean over seeds, 95% CI band", y=1.0)
    figure.tight_layout()
    shared_legend(figure, axes_list)
    save(figure, out)
