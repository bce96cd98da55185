"""Scores against the demonstrations a run learned from: quality (the action noise of the scripted demonstrator: the
share of its actions replaced by random ones) and quantity (episodes), and the source where the matrix has several.
Every knob is read from the demo sets' values (tables/demo_sets.csv), never from a set's name.

Each panel holds the other knobs at the reference set's values, so one knob varies at a time. Beside each method's
final score (mean over seeds with a 95% t-interval) it draws the demonstrations' own mean score, so a reader sees
whether a method follows, falls short of, or outgrows its demonstrations as they get worse or fewer.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .panels import Reference, draw_references, name_beyond, number, references, score_limits
from .score_range import clip_scores, score_range
from .stats import mean_ci
from .style import collect_legend, legend_below, method_style, new_figure, save

COLUMNS = ["game", "method", "demo_set", "source", "noise", "episodes", "transitions", "demo_mean", "seeds",
           "final_mean", "final_ci95_low", "final_ci95_high", "random_mean"]


def sweep_table(runs: pd.DataFrame, demo_sets: pd.DataFrame, random: pd.DataFrame) -> pd.DataFrame:
    """One row per game × method × demo set: the set's knobs and own score, and the method's final score."""
    rows = []
    for (game, method, demo_set), group in runs.groupby(["game", "method", "demo_set"], sort=False):
        mean, low, high = mean_ci(group["eval_score_mean"])
        rows.append({"game": game, "method": method, "demo_set": demo_set, "seeds": len(group), "final_mean": mean,
                     "final_ci95_low": low, "final_ci95_high": high})
    table = pd.DataFrame(rows, columns=["game", "method", "demo_set", "seeds", "final_mean", "final_ci95_low",
                                        "final_ci95_high"])
    table = table.merge(demo_sets[["game", "demo_set", "source", "noise", "episodes", "transitions", "demo_mean"]],
                        on=["game", "demo_set"], how="left")
    table = table.merge(random.groupby("game")["score"].mean().rename("random_mean").reset_index(), on="game",
                        how="left")
    return table[COLUMNS].sort_values(["game", "method", "source", "noise", "episodes"]).reset_index(drop=True)


def to_markdown(table: pd.DataFrame) -> str:
    def interval(row):
        if np.isnan(row.final_ci95_low):
            return f"{row.final_mean:.1f}"
        return f"{row.final_mean:.1f} [{row.final_ci95_low:.1f}, {row.final_ci95_high:.1f}]"

    lines = ["| game | method | demo set | source | action noise | episodes | transitions | demos' mean | final score "
             "| seeds |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {row.game} | {row.method} | {row.demo_set} | {row.source} | {row.noise:g} | {row.episodes} | "
              f"{row.transitions} | {row.demo_mean:.1f} | {interval(row)} | {row.seeds} |"
              for row in table.itertuples()]
    lines += ["", "Final score: mean evaluation score over seeds [95% t-interval]. Demos' mean: the mean score of the "
              "demonstration episodes in the set, the quality the method was shown."]
    return "\n".join(lines) + "\n"


def knobs(table: pd.DataFrame, reference: str) -> list[tuple[str, str, pd.DataFrame]]:
    """The panels: (title, x column, rows) for each knob that varies while the others stay at the reference's."""
    ref = table[table["demo_set"] == reference].iloc[0]
    same_source = table[table["source"] == ref["source"]]
    panels = []
    quality = same_source[same_source["episodes"] == ref["episodes"]]
    if quality["noise"].nunique() > 1:
        panels.append(("demo quality: action noise", "noise", quality))
    quantity = same_source[same_source["noise"] == ref["noise"]]
    if quantity["episodes"].nunique() > 1:
        panels.append(("demo quantity: episodes", "episodes", quantity))
    if table["source"].nunique() > 1:
        panels.append(("demo source", "demo_set", table))
    return panels


def sweep_figure(table: pd.DataFrame, methods: list[str], reference: str, width: float):
    """One row of panels per game, one panel per knob (`knobs`): each method's final score with its interval
    (clipped to the game's possible scores), the demonstrations' own mean and random play's."""
    games = list(dict.fromkeys(table["game"]))
    panels = knobs(table, reference) if (table["demo_set"] == reference).any() else []
    if not panels:
        panels = [("demo set", "demo_set", table)]
    panel_height = min(max(0.75 * width / len(panels), 1.4), 1.9)
    figure, axes = new_figure(width, panel_height * len(games), nrows=len(games), ncols=len(panels))
    beyond = []
    for row, game in enumerate(games):
        for column, (title, x, rows) in enumerate(panels):
            ax, rows = axes[row][column], rows[rows["game"] == game]
            # A categorical knob (the demo set itself) is drawn at evenly spaced positions in source/noise/size order.
            rows = rows.sort_values(["source", "noise", "episodes"])
            order = list(dict.fromkeys(rows["demo_set"]))
            categorical = x == "demo_set"
            rows = rows.assign(position=rows[x].map(order.index) if categorical else rows[x]).sort_values("position")
            demos = rows.drop_duplicates("demo_set")
            ax.plot(demos["position"], demos["demo_mean"], color="black", linestyle=(0, (5, 2)), marker="x",
                    label="demonstrations: mean")
            levels = []
            limits = score_range(game)  # the table holds means, not episode scores: only the rules' ends bound them
            for method in [m for m in methods if (rows["method"] == m).any()]:
                mine = rows[rows["method"] == method]
                style = method_style(method)
                xs, mean = mine["position"].to_numpy(dtype=float), mine["final_mean"].to_numpy()
                low = clip_scores(mine["final_ci95_low"], limits)
                high = clip_scores(mine["final_ci95_high"], limits)
                error = np.nan_to_num(np.vstack([mean - low, high - mean]))
                ax.errorbar(xs, mean, yerr=error, color=style["color"], linestyle=style["linestyle"],
                            marker=style["marker"], capsize=2, label=method)
                levels += [*mean, *low[~np.isnan(low)], *high[~np.isnan(high)]]
            # The demonstrations' scores are what each method is read against, but like any reference they join
            # the y-range only when near the methods' (analysis/panels.py); far off, the panel names them at its edge.
            shown = Reference("demonstrations: mean", "demos", demos["demo_mean"].min(), demos["demo_mean"].max(), {})
            refs = references(rows.groupby("game")[["random_mean"]].first(), game)
            ax.set_ylim(*score_limits(levels, [shown, *refs]))
            sides = draw_references(ax, refs)
            bottom, top = ax.get_ylim()
            span = number(shown.low) + ("" if shown.low == shown.high else f"–{number(shown.high)}")
            if shown.low > top:
                sides["above"].insert(0, f"↑ {shown.short} {span}")
            elif shown.high < bottom:
                sides["below"].insert(0, f"↓ {shown.short} {span}")
            beyond.append((ax, sides))
            if categorical:
                ax.set_xticks(range(len(order)), order, rotation=20, ha="right")
            else:  # the knob's own values: a tick between them (2.5 episodes) names no demo set
                ax.set_xticks(sorted(demos["position"].unique()))
            ax.set_title(f"{game}: {title.split(': ')[-1]}")
            ax.set_xlabel(title.split(": ")[-1] if row == len(games) - 1 else "")
            ax.set_ylabel("final score" if column == 0 else "")
    legend = legend_below(figure, *collect_legend(axes.flat, last={"demonstrations: mean", "random play: mean"}))
    figure.set_figheight(panel_height * len(games) + legend + 0.1)
    name_beyond(figure, beyond)
    return figure


def plot_sweep(table: pd.DataFrame, methods: list[str], reference: str, out) -> None:
    save(lambda width: sweep_figure(table, methods, reference, width), out)
