"""Learning curves, one panel per game.

- The DQfD paper's view: raw score against agent steps (frames on the top axis), mean over seeds with a 95% CI band
  (with fewer than FEW_SEEDS seeds, each seed's curve instead: a t-interval over two or three values says less than
  the values), the demonstrator's best and worst episode dashed, random play dash-dotted; pretraining happens before
  step 0, which is marked. Each method has its own colour, line style and marker, so curves that coincide stay apart.
  A method that never interacts (imitation) is drawn as its evaluation score across the whole axis.
- The soft-Q paper's view: the methods whose demonstration phase ends during interaction (N_p), against agent steps
  relative to that point, so a drop when the demonstrations stop shows at 0.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter
import pandas as pd

from .stats import mean_ci
from .style import method_colours, save, theme


FEW_SEEDS = 4  # below this, seeds are drawn instead of a band (two seeds: a t-interval 12.7 standard errors wide)
BAND_ALPHA = 0.15
SEED_ALPHA = 0.35
STYLES = ["-", (0, (5, 2)), (0, (1, 1.5)), (0, (8, 2, 2, 2)), (0, (3, 1))]
MARKERS = "osD^vPX*ph"
THOUSANDS = FuncFormatter(lambda value, _: f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}")


def seed_bins(episodes: pd.DataFrame, edges: np.ndarray, step: str = "agent_step") -> pd.DataFrame:
    """Per step bin (rows, indexed by the bin's centre) and seed (columns): the mean return of the episodes that end
    in that bin."""
    episodes = episodes.assign(bin=np.clip(np.digitize(episodes[step], edges[1:-1]), 0, len(edges) - 2))
    per_seed = episodes.groupby(["seed", "bin"])["episode_return"].mean().unstack("seed")
    per_seed.index = [(edges[index] + edges[index + 1]) / 2 for index in per_seed.index]
    return per_seed


def binned_curve(episodes: pd.DataFrame, edges: np.ndarray, step: str = "agent_step") -> pd.DataFrame:
    """Per step bin: the mean over seeds of each seed's mean return there, with its 95% t-interval."""
    rows = []
    for centre, seed_means in seed_bins(episodes, edges, step).iterrows():
        mean, low, high = mean_ci(seed_means.to_numpy())
        rows.append({"step": centre, "mean": mean, "low": low, "high": high, "seeds": int(seed_means.notna().sum())})
    return pd.DataFrame(rows)


def method_styles(methods: list[str]) -> dict[str, dict]:
    """Colour, line style and marker per method, fixed by its place in the config's list as colours are."""
    colours = method_colours(methods)
    return {method: {"color": colours[method], "linestyle": STYLES[index % len(STYLES)],
                     "marker": MARKERS[index % len(MARKERS)]} for index, method in enumerate(methods)}


def panel_grid(count: int):
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.2 * columns, 3.9 * rows), squeeze=False)
    for extra in axes.flat[count:]:
        extra.set_visible(False)
    return figure, list(axes.flat[:count])


def draw_curve(axes, played: pd.DataFrame, edges: np.ndarray, style: dict, label: str, levels: list,
               step: str = "agent_step") -> None:
    """The mean over seeds as a thick line; around it the seeds' own curves when they are few, else the 95% band.
    The rule holds per step bin too: where fewer than FEW_SEEDS seeds ended an episode in a bin (episodes end at
    irregular steps), that bin shows those seeds' values as points instead of a t-interval many times their spread.
    Whatever is drawn joins the levels the y-range is fitted to, so no band is cut into a pale block."""
    seeds = seed_bins(played, edges, step)
    curve = binned_curve(played, edges, step)
    if seeds.shape[1] < FEW_SEEDS:
        for _, values in seeds.items():
            axes.plot(values.index, values, color=style["color"], linestyle=style["linestyle"], linewidth=0.9,
                      alpha=SEED_ALPHA)
        levels.extend(seeds.stack())
    else:
        enough = (curve["seeds"] >= FEW_SEEDS).to_numpy()
        low, high = curve["low"].where(enough), curve["high"].where(enough)
        axes.fill_between(curve["step"], low, high, color=style["color"], alpha=BAND_ALPHA, linewidth=0)
        sparse = seeds[~enough].stack().dropna()  # (bin centre, seed) -> value, in the bins with too few seeds
        axes.scatter(sparse.index.get_level_values(0), sparse, s=9, color=style["color"], alpha=SEED_ALPHA,
                     linewidths=0)
        levels.extend([*low.dropna(), *high.dropna(), *sparse])
    levels.extend(curve["mean"])
    axes.plot(curve["step"], curve["mean"], linewidth=2, markersize=4, label=label, **style)


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
    """Fit the y-range to what is drawn: means, seeds or bands, and references."""
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


def draw_evaluation(axes, scores: pd.Series, style: dict, label: str, levels: list) -> None:
    """A method that never interacts: one policy, so its evaluation score across the whole axis, as a thick line;
    around it the seeds' own scores when they are few, else the 95% band."""
    mean, low, high = mean_ci(scores)
    axes.axhline(mean, color=style["color"], linestyle=style["linestyle"], linewidth=2, label=label)
    if len(scores) < FEW_SEEDS:
        for score in scores:
            axes.axhline(score, color=style["color"], linewidth=0.9, alpha=SEED_ALPHA)
        levels.extend(scores)
    elif not np.isnan(low):
        axes.axhspan(low, high, color=style["color"], alpha=BAND_ALPHA / 2)
        levels.extend([low, high])
    levels.append(mean)


def plot_panels(games: list[str], title: str, out, draw_panel: Callable) -> None:
    """The figure every plot here is: one panel per game, which `draw_panel(axes, game)` fills (ending with
    `finish_panel`), under one title and above one legend for all panels."""
    theme()
    figure, axes_list = panel_grid(len(games))
    for axes, game in zip(axes_list, games):
        draw_panel(axes, game)
    figure.suptitle(f"{title}: mean over seeds (thick); a 95% CI band where {FEW_SEEDS} or more seeds have a value, "
                    "else each seed (thin line or dot)", y=1.0)
    figure.tight_layout()
    shared_legend(figure, axes_list)
    save(figure, out)


def finish_panel(axes, game: str, baselines: pd.DataFrame, levels: list, xlim: tuple, xlabel: str,
                 marker: tuple | None = None) -> None:
    """What every panel draws after its methods' curves: the game's references, the end of pretraining at step 0
    (`marker`: its label, the label's offset from the line in points and its colour; None: no line), the x-axis in
    thousands over `xlim`, the y-range fitted to all that is drawn (`levels`), the labels and the game as title."""
    draw_references(axes, game, baselines, levels)
    if marker is not None:
        text, offset, colour = marker
        axes.axvline(0, color="grey", linewidth=3, alpha=0.5)
        axes.annotate(text, xy=(0, 0.02), xycoords=("data", "axes fraction"), xytext=(offset, 0),
                      textcoords="offset points", fontsize=8, color=colour)
    axes.xaxis.set_major_formatter(THOUSANDS)
    axes.set_xlim(*xlim)
    fit_ylim(axes, levels)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("score (raw)")
    axes.set_title(game)


def plot_learning_curves(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                         bins: int, out) -> None:
    styles = method_styles(methods)

    def panel(axes, game):
        game_runs, levels = runs[runs["game"] == game], []
        horizon = max(int(game_runs["agent_steps"].max()), 1)
        edges = np.linspace(0, horizon, bins + 1)
        for method in methods:
            method_runs = game_runs[game_runs["method"] == method]
            if method_runs.empty:
                continue
            label = method_label(method, runs[runs["method"] == method])
            if int(method_runs["agent_steps"].max()) == 0:
                draw_evaluation(axes, method_runs["eval_score_mean"], styles[method], label, levels)
                continue
            played = episodes[(episodes["game"] == game) & (episodes["method"] == method)]
            if not played.empty:
                draw_curve(axes, played, edges, styles[method], label, levels)
        interacting = game_runs[game_runs["agent_steps"] > 0]
        pretrained = int(interacting["pretrain_updates"].max()) if len(interacting) else 0
        # the curves of pretrained methods start where their pretraining ended
        marker = (f"end of pretraining ({pretrained:,} updates)", 5, "dimgrey") if pretrained > 0 else None
        finish_panel(axes, game, baselines, levels, (0, horizon), "agent steps", marker)
        frame_skip = int(game_runs["frame_skip"].max()) if "frame_skip" in game_runs else 4
        top = axes.secondary_xaxis("top", functions=(lambda x, k=frame_skip: x * k, lambda x, k=frame_skip: x / k))
        top.set_xlabel("frames", fontsize=9)
        top.xaxis.set_major_formatter(THOUSANDS)

    plot_panels(sorted(runs["game"].unique()), "Learning curves", out, panel)


def plot_transition(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                    bins: int, out) -> None:
    """Scores around the end of the demonstration phase (N_p), per method aligned at its own N_p."""
    styles = method_styles(methods)
    phased = runs[(runs["demo_phase_end"] > 0) & (runs["agent_steps"] > runs["demo_phase_end"])]

    def panel(axes, game):
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
            draw_curve(axes, played, edges, styles[method], label, levels, step="relative")
        finish_panel(axes, game, baselines, levels, (start, end), "agent steps after the end of pretraining (N_p)",
                     ("end of pretraining", 4, "grey"))

    plot_panels(sorted(phased["game"].unique()), "Around the end of pretraining", out, panel)
