"""Learning curves, one panel per game.

- The DQfD paper's view: raw score against agent steps, mean over seeds with a 95% CI band (with fewer than FEW_SEEDS
  seeds, each seed's curve instead: a t-interval over two or three values says less than the values), beside the
  game's references (analysis/panels.py: the demonstrator's mean and episode range, random play's mean); pretraining
  happens before step 0. Each method has its own colour, line style and marker (analysis/style.py), so curves that
  coincide stay apart. A method that never interacts (imitation) is drawn as its evaluation score across the axis.
- The soft-Q paper's view: the methods whose demonstration phase ends during interaction (N_p), against agent steps
  relative to that point, so a drop when the demonstrations stop shows at 0.
- The Atari 100k papers' view, for runs with greedy evaluations along interaction (`interaction_eval_every`): the
  same panels, each point a greedy evaluation's score at the agent step it was taken (interaction_eval.csv), not the
  ε-greedy episodes played while learning; the published Atari 100k scores, themselves greedy evaluations, are drawn
  on these panels too.

Bands are clipped to the scores the game allows (analysis/score_range.py). With more than MAX_PER_PANEL methods that
interact, a game's panel is split into one panel per method family, the methods that never interact drawn in each,
all of a game's panels on one y-range: six overlapping bands make one block where no method can be read.
A matrix in which no run interacts (pretraining only) has no learning curve: the figure says so in one line.

With the workflow's `anchors` (analysis/anchors.py), each game's panels also show that game's published Atari 100k
scores as thin labelled lines (analysis/panels.py), context under another protocol; a game without one shows none.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter

from .panels import (ANCHOR_MARGIN, anchor_references, draw_references, name_beyond, name_directly, references,
                     score_limits)
from .score_range import clip_scores, score_range
from .stats import mean_ci
from .style import (BAND_ALPHA, PANEL_WIDTH, band_alpha, collect_legend, family, family_title, legend_below,
                    message_figure, method_style, new_figure, save)

FEW_SEEDS = 4  # below this, seeds are drawn instead of a band (two seeds: a t-interval 12.7 standard errors wide)
SEED_ALPHA = 0.35
MAX_PER_PANEL = 4  # interacting methods one panel holds: the claims config's six overlap into one block
ANCHORED_PANELS_HEIGHT = 7.5  # inches the panels of a figure with anchors take at most, while each keeps 1.3
MARKS = 5  # markers along a curve: enough to tell the methods apart, few enough to leave the line readable
THOUSANDS = FuncFormatter(lambda value, _: (f"{value / 1000:g}k" if abs(value) >= 1000 else f"{value:g}")
                          .replace("-", "−"))  # the minus sign matplotlib's own tick labels use
FROM_N_P = FuncFormatter(lambda value, _: "N_p" if value == 0 else THOUSANDS(value))
NO_INTERACTION = ("No learning curves: no complete run of this matrix interacts with the game (pretraining only, or "
                  "see tables/missing_runs.md). Its scores are in tables/scores.md.")


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


def marks(count: int, index: int) -> tuple[int, int]:
    """markevery for the `index`-th curve of a panel: MARKS markers, shifted per curve so that they do not pile up."""
    every = max(1, round(count / MARKS))
    return index % every, every


def draw_curve(axes, played: pd.DataFrame, edges: np.ndarray, style: dict, label: str, levels: list,
               limits: tuple[float, float], index: int = 0, step: str = "agent_step",
               alpha: float = BAND_ALPHA) -> None:
    """The mean over seeds as a line; around it the seeds' own curves when they are few, else the 95% band, clipped
    to the game's `limits`. The rule holds per step bin too: where fewer than FEW_SEEDS seeds ended an episode in a bin
    (episodes end at irregular steps), that bin shows those seeds' values as points instead of a t-interval many
    times their spread. Whatever is drawn joins the levels the y-range is fitted to, so no band is cut into a pale
    block."""
    seeds = seed_bins(played, edges, step)
    curve = binned_curve(played, edges, step)
    if seeds.shape[1] < FEW_SEEDS:
        for _, values in seeds.items():
            axes.plot(values.index, values, color=style["color"], linestyle=style["linestyle"], linewidth=0.6,
                      alpha=SEED_ALPHA)
        levels.extend(seeds.stack())
    else:
        enough = (curve["seeds"] >= FEW_SEEDS).to_numpy()
        low = pd.Series(clip_scores(curve["low"], limits)).where(enough)
        high = pd.Series(clip_scores(curve["high"], limits)).where(enough)
        axes.fill_between(curve["step"], low, high, color=style["color"], alpha=alpha, linewidth=0)
        sparse = seeds[~enough].stack().dropna()  # (bin centre, seed) -> value, in the bins with too few seeds
        axes.scatter(sparse.index.get_level_values(0), sparse, s=5, color=style["color"], alpha=SEED_ALPHA,
                     linewidths=0)
        levels.extend([*low.dropna(), *high.dropna(), *sparse])
    levels.extend(curve["mean"])
    axes.plot(curve["step"], curve["mean"], label=label, markevery=marks(len(curve), index), **style)


def draw_evaluation(axes, scores: pd.Series, style: dict, label: str, levels: list, limits: tuple[float, float],
                    xs: np.ndarray, index: int = 0) -> None:
    """A method that never interacts: one policy, so its evaluation score across the whole axis; around it the
    seeds' own scores when they are few, else the 95% band (clipped to the game's `limits`)."""
    mean, low, high = mean_ci(scores)
    axes.plot(xs, np.full(len(xs), mean), label=label, markevery=marks(len(xs), index), **style)
    if len(scores) < FEW_SEEDS:
        for score in scores:
            axes.axhline(score, color=style["color"], linewidth=0.6, alpha=SEED_ALPHA)
        levels.extend(scores)
    elif not np.isnan(low):
        low, high = clip_scores([low, high], limits)
        axes.axhspan(low, high, color=style["color"], alpha=BAND_ALPHA / 2, linewidth=0)
        levels.extend([low, high])
    levels.append(mean)


def method_groups(methods: list[str], interacting: set[str]) -> list[tuple[str | None, list[str]]]:
    """A game's panels, as (title, methods): one for all, or with more than MAX_PER_PANEL interacting methods one
    per family of them, each with the methods that never interact (the level the others are read against)."""
    moving = [method for method in methods if method in interacting]
    if len(moving) <= MAX_PER_PANEL:
        return [(None, methods)]
    still = [method for method in methods if method not in interacting]
    families = dict.fromkeys(family(method) for method in moving)
    return [(family_title(members[0]), members + still)
            for members in ([method for method in moving if family(method) == kind] for kind in families)]


def game_limits(game: str, episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame) -> tuple:
    """The game's possible scores; where its rules set no end, the episodes of its runs and baselines bound them."""
    observed = [*episodes.loc[episodes["game"] == game, "episode_return"],
                *runs.loc[runs["game"] == game, "eval_score_mean"]]
    if game in baselines.index:
        observed += list(baselines.loc[game, ["demonstrator_worst", "demonstrator_best", "random_mean"]].dropna())
    return score_range(game, observed)


def score_figure(games: list[str], groups: list[tuple[str | None, list[str]]], baselines: pd.DataFrame,
                 draw_methods: Callable, xlabel: str, width: float, steps=THOUSANDS, anchors: pd.DataFrame | None = None):
    """The figure every plot here is: per game one panel per method group (`groups`: title, methods), which
    `draw_methods(axes, game, methods)` fills, returning the levels it drew; a game's panels share one y-range fitted
    to them, with the game's references (and its `anchors`, where given); one legend below all panels. `steps` formats
    the x-axis's ticks."""
    keys = [(game, title, members) for game in games for title, members in groups]
    margin = ANCHOR_MARGIN if any(anchor_references(anchors, game) for game in games) else 0.0
    most = max(1, min(3, int(width / (PANEL_WIDTH + margin))))
    columns = len(groups) if 1 < len(groups) <= most else min(len(keys), most)
    rows = math.ceil(len(keys) / columns)
    panel_height = min(max(0.72 * width / columns, 1.3), 1.8)
    if margin:  # one column of panels at the column width: five games at full height would be taller than a page
        panel_height = min(panel_height, max(1.3, ANCHORED_PANELS_HEIGHT / rows))
    figure, grid = new_figure(width, rows * panel_height, nrows=rows, ncols=columns)
    panels = list(grid.flat[:len(keys)])
    for extra in grid.flat[len(keys):]:
        extra.set_visible(False)
    levels = {game: [] for game in games}
    for axes, (game, title, members) in zip(panels, keys):
        levels[game].extend(draw_methods(axes, game, members))
        axes.set_title(game if title is None else f"{game}: {title}")
    beyond, reference_labels, drawn = [], set(), []
    for index, (axes, (game, _, _)) in enumerate(zip(panels, keys)):
        refs = references(baselines, game) + anchor_references(anchors, game)
        reference_labels.update(ref.label for ref in refs)
        axes.set_ylim(*score_limits(levels[game], refs))
        beyond.append((axes, draw_references(axes, refs)))
        drawn.append((axes, refs, axes.get_ylim()))  # before name_beyond widens it
        axes.xaxis.set_major_formatter(steps)
        if index + columns >= len(keys):  # the lowest panel of its column
            axes.set_xlabel(xlabel)
    figure.supylabel("score (raw)")
    legend = legend_below(figure, *collect_legend(panels, last=reference_labels))
    figure.set_figheight(rows * panel_height + legend + 0.2)
    name_beyond(figure, beyond)
    name_directly(figure, drawn)
    return figure


def method_label(method: str, runs: pd.DataFrame) -> str:
    seeds = runs.groupby("game")["seed"].nunique()
    n = str(seeds.min()) if seeds.min() == seeds.max() else f"{seeds.min()}–{seeds.max()}"
    pretrain = int(runs["pretrain_updates"].max())
    if int(runs["agent_steps"].max()) == 0:
        return f"{method} (n={n}; no interaction: evaluation score)"
    return f"{method} (n={n}" + (f"; {THOUSANDS(pretrain)} pretraining updates)" if pretrain else ")")


def around(steps: np.ndarray) -> np.ndarray:
    """Bin edges halfway between consecutive evaluation steps (and as far beyond the first and the last), so that each
    step is the centre of its own bin."""
    steps = np.unique(steps).astype(float)
    half = np.diff(steps) / 2 if len(steps) > 1 else np.array([max(steps[0], 1.0) / 2])
    return np.concatenate([[steps[0] - half[0]], steps[:-1] + half, [steps[-1] + half[-1]]])


def learning_curves_figure(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                           bins: int, width: float, anchors: pd.DataFrame | None = None, greedy: bool = False):
    """`greedy`: `episodes` are the greedy evaluations along interaction, one bin per evaluation step; else the
    episodes played while learning, in `bins` equal bins of agent steps."""
    runs = runs[runs["method"].isin(methods)]
    interacting = runs[runs["agent_steps"] > 0]
    if interacting.empty:
        return message_figure(NO_INTERACTION, width)

    def draw(axes, game, members):
        game_runs, levels = runs[runs["game"] == game], []
        horizon = int(game_runs["agent_steps"].max()) or int(interacting["agent_steps"].max())
        evaluated = episodes.loc[episodes["game"] == game, "agent_step"]
        edges = around(evaluated) if greedy and len(evaluated) else np.linspace(0, horizon, bins + 1)
        limits = game_limits(game, episodes, runs, baselines)
        alpha = band_alpha(game_runs.loc[game_runs["method"].isin(members) & (game_runs["agent_steps"] > 0),
                                         "method"].nunique())
        for index, method in enumerate(members):
            method_runs = game_runs[game_runs["method"] == method]
            if method_runs.empty:
                continue
            label = method_label(method, runs[runs["method"] == method])
            if int(method_runs["agent_steps"].max()) == 0:
                draw_evaluation(axes, method_runs["eval_score_mean"], method_style(method), label, levels, limits,
                                (edges[:-1] + edges[1:]) / 2, index)
                continue
            played = episodes[(episodes["game"] == game) & (episodes["method"] == method)]
            if not played.empty:
                draw_curve(axes, played, edges, method_style(method), label, levels, limits, index, alpha=alpha)
        axes.set_xlim(0, horizon)
        return levels

    return score_figure(sorted(runs["game"].unique()), method_groups(methods, set(interacting["method"])),
                        baselines, draw, "agent steps", width, anchors=anchors)


def plot_learning_curves(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                         bins: int, out, anchors: pd.DataFrame | None = None) -> None:
    save(lambda width: learning_curves_figure(episodes, runs, baselines, methods, bins, width, anchors), out)


def evaluations_as_episodes(evaluations: pd.DataFrame) -> pd.DataFrame:
    """The greedy evaluations along interaction (tables/interaction_evals.csv) in the columns the curves read."""
    return evaluations.rename(columns={"score": "episode_return", "length": "episode_length"})


def plot_greedy_curves(evaluations: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                       bins: int, out, anchors: pd.DataFrame | None = None) -> None:
    episodes = evaluations_as_episodes(evaluations)
    save(lambda width: learning_curves_figure(episodes, runs, baselines, methods, bins, width, anchors, greedy=True),
         out)


def transition_figure(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                      bins: int, width: float, anchors: pd.DataFrame | None = None):
    """Scores around the end of the demonstration phase (N_p), per method aligned at its own N_p."""
    phased = runs[(runs["demo_phase_end"] > 0) & (runs["agent_steps"] > runs["demo_phase_end"])
                  & runs["method"].isin(methods)]
    if phased.empty:
        return message_figure("No transition: no run of this matrix has a demonstration phase that ends while it "
                              "interacts.", width)

    def draw(axes, game, members):
        levels, game_runs = [], phased[phased["game"] == game]
        start = -int(game_runs["demo_phase_end"].max())
        end = int((game_runs["agent_steps"] - game_runs["demo_phase_end"]).max())
        edges = np.linspace(start, end, bins + 1)
        limits = game_limits(game, episodes, runs, baselines)
        alpha = band_alpha(game_runs.loc[game_runs["method"].isin(members), "method"].nunique())
        for index, method in enumerate(members):
            method_runs = game_runs[game_runs["method"] == method]
            if method_runs.empty:
                continue
            phase_end = int(method_runs["demo_phase_end"].iloc[0])
            played = episodes[(episodes["game"] == game) & (episodes["method"] == method)]
            played = played.assign(relative=played["agent_step"] - phase_end)
            label = f"{method} (n={len(method_runs)}; N_p = {phase_end:,})"
            draw_curve(axes, played, edges, method_style(method), label, levels, limits, index, step="relative",
                       alpha=alpha)
        axes.axvline(0, color="0.5", linewidth=0.8, zorder=1)
        axes.set_xlim(start, end)
        return levels

    return score_figure(sorted(phased["game"].unique()), method_groups(methods, set(phased["method"])), baselines,
                        draw, "agent steps from N_p", width, FROM_N_P, anchors)


def plot_transition(episodes: pd.DataFrame, runs: pd.DataFrame, baselines: pd.DataFrame, methods: list[str],
                    bins: int, out, anchors: pd.DataFrame | None = None) -> None:
    save(lambda width: transition_figure(episodes, runs, baselines, methods, bins, width, anchors), out)
