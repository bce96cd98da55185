"""Learning curves in the DQfD paper's style: raw score against agent steps, mean over seeds with a 95% CI band,
the demonstrator's mean score dashed, the end of pretraining marked; methods that never interact (imitation) are
drawn as their evaluation score across the whole axis."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from agents.io import atomic_write  # noqa: E402

from .stats import mean_ci  # noqa: E402


def method_colours(methods: list[str]) -> dict[str, tuple]:
    """One colour per method, fixed by the method's place in the config, so every figure agrees."""
    palette = sns.color_palette("colorblind", max(len(methods), 3))
    return {method: palette[index % len(palette)] for index, method in enumerate(methods)}


def binned_curve(episodes: pd.DataFrame, edges: np.ndarray) -> pd.DataFrame:
    """Per seed, the mean return of the episodes that end in each step bin; then mean and CI over seeds."""
    episodes = episodes.assign(bin=np.clip(np.digitize(episodes["agent_step"], edges[1:-1]), 0, len(edges) - 2))
    per_seed = episodes.groupby(["seed", "bin"])["episode_return"].mean().unstack("seed")
    rows = []
    for bin_index, seed_means in per_seed.iterrows():
        mean, low, high = mean_ci(seed_means.to_numpy())
        rows.append({"step": (edges[bin_index] + edges[bin_index + 1]) / 2, "mean": mean, "low": low, "high": high,
                     "seeds": int(seed_means.notna().sum())})
    return pd.DataFrame(rows)


def plot_game(game: str, episodes: pd.DataFrame, runs: pd.DataFrame, demonstrators: pd.DataFrame,
              methods: list[str], bins: int, out: str, random: pd.DataFrame | None = None) -> None:
    colours = method_colours(methods)
    runs = runs[runs["game"] == game]
    episodes = episodes[episodes["game"] == game]
    horizon = max(int(runs["agent_steps"].max()) if len(runs) else 1, 1)
    edges = np.linspace(0, horizon, bins + 1)
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.2)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    pretrained = False
    levels = []  # means and reference scores: the y-range is fitted to these, so a wide 2-seed band cannot hide them
    for method in methods:
        method_runs = runs[runs["method"] == method]
        if method_runs.empty:
            continue
        colour = colours[method]
        if int(method_runs["agent_steps"].max()) == 0:  # never interacts: its evaluation score is the curve
            mean, low, high = mean_ci(method_runs["eval_score_mean"])
            levels.append(mean)
            axes.axhline(mean, color=colour, linestyle=":", linewidth=2,
                         label=f"{method} (evaluation, no interaction; n={len(method_runs)})")
            if not np.isnan(low):
                axes.axhspan(low, high, color=colour, alpha=0.12)
            continue
        curve = binned_curve(episodes[episodes["method"] == method], edges)
        if curve.empty:
            continue
        levels.extend(curve["mean"])
        pretrain = int(method_runs["pretrain_updates"].max())
        pretrained |= pretrain > 0
        suffix = f", after {pretrain:,} pretraining updates" if pretrain else ""
        axes.plot(curve["step"], curve["mean"], color=colour, linewidth=2, marker="o", markersize=3,
                  label=f"{method} (n={len(method_runs)}{suffix})")
        axes.fill_between(curve["step"], curve["low"], curve["high"], color=colour, alpha=0.2, linewidth=0)
    demo = demonstrators[demonstrators["game"] == game]["score"] if len(demonstrators) else pd.Series(dtype=float)
    if len(demo):
        levels.append(demo.mean())
        axes.axhline(demo.mean(), color="black", linestyle="--", linewidth=1.5,
                     label=f"demonstrator mean ({len(demo)} episodes)")
    if random is not None and (random["game"] == game).any():
        levels.append(random[random["game"] == game]["score"].mean())
        axes.axhline(levels[-1], color="grey", linestyle="-.", linewidth=1.2,
                     label="random play")
    if pretrained:
        axes.axvline(0, color="grey", linewidth=3, alpha=0.5)
        axes.annotate("end of pretraining", xy=(0, 0), xycoords=("data", "axes fraction"), xytext=(5, 5),
                      textcoords="offset points", fontsize=9, color="grey")
    axes.set_xlim(0, horizon)
    if levels:
        low, high = float(np.nanmin(levels)), float(np.nanmax(levels))
        pad = max(0.25 * (high - low), 1.0)
        axes.set_ylim(low - pad, high + pad)
    axes.set_xlabel(f"agent steps (×{int(runs['frame_skip'].max()) if 'frame_skip' in runs else 4} frames)")
    axes.set_ylabel("episode score (raw)")
    axes.set_title(f"{game}: mean over seeds, 95% CI band")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=1, frameon=False, fontsize=9)
    figure.tight_layout()
    atomic_write(out, lambda stream: figure.savefig(stream, format="png", dpi=150, bbox_inches="tight"))
    plt.close(figure)
