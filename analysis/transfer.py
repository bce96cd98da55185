"""The transfer study: how far pretraining on demonstrations carries over to the agent's own play, against the number
of pretraining updates.

A run evaluated along its pretraining ladder (`pretrain_eval_updates`) has one row per rung and evaluation episode in
`pretrain_eval.csv`; a run that never interacts is evaluated once more at the end of pretraining (`eval.csv`), its
top rung. At each rung three things are measured: the raw score of the agent's own games, its agreement with the
scripted demonstrator on the states the agent reaches itself, and its agreement on the demonstration states. The gap
between the two agreements is the covariate shift: what the network learnt of the demonstrations that does not hold
on its own trajectories.

Per game, method and rung the table gives the mean over seeds of each run's mean, with a 95% t-interval over seeds,
and the score normalised by the game's demonstrator and random play, as every other table of the suite.

`default_design` applies the rule, written before the study ran (docs/studies.md), that picks the default matrix's
pretraining budget and games from this table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .scores import normalise
from .stats import mean_ci

MEASURES = ("score", "expert_agreement", "demo_agreement")


def rung_rows(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per run and rung: the means over that rung's evaluation episodes."""
    rows = []
    for run in runs.to_dict("records"):
        folder = Path(run["run_dir"])
        ladder = folder / "pretrain_eval.csv"
        episodes = pd.read_csv(ladder) if ladder.is_file() else pd.DataFrame(columns=["update", *MEASURES])
        if int(run["agent_steps"]) == 0:  # its final evaluation is the top rung
            top = pd.read_csv(folder / "eval.csv").assign(update=int(run["pretrain_updates"]),
                                                          demo_agreement=run.get("eval_demo_agreement", np.nan))
            episodes = pd.concat([episodes, top], ignore_index=True)
        for update, rung in episodes.groupby("update"):
            rows.append({"game": run["game"], "method": run["method"], "seed": int(run["seed"]),
                         "update": int(update), "episodes": len(rung),
                         **{measure: float(rung[measure].astype(float).mean()) for measure in MEASURES}})
    return pd.DataFrame(rows, columns=["game", "method", "seed", "update", "episodes", *MEASURES])


def transfer_table(rungs: pd.DataFrame, baselines: pd.DataFrame) -> pd.DataFrame:
    """Per game, method and rung: each measure's mean over seeds with its 95% t-interval, and the normalised score."""
    rows = []
    for (game, method, update), group in rungs.groupby(["game", "method", "update"], sort=True):
        row = {"game": game, "method": method, "update": update, "seeds": len(group),
               "episodes": int(group["episodes"].sum())}
        for measure in MEASURES:
            mean, low, high = mean_ci(group[measure])
            row.update({measure: mean, f"{measure}_ci95_low": low, f"{measure}_ci95_high": high})
        demo, random = (baselines.loc[game, name] if game in baselines.index else np.nan
                        for name in ("demonstrator_mean", "random_mean"))
        # Normalising is affine and increasing per game (a demonstrator not above random play gives no unit), so the
        # interval's ends map to its ends.
        low, mean, high = normalise([row["score_ci95_low"], row["score"], row["score_ci95_high"]], baselines,
                                    [game] * 3)
        row.update(score_normalised=float(mean), score_normalised_ci95_low=float(low),
                   score_normalised_ci95_high=float(high), demonstrator_mean=demo, random_mean=random)
        rows.append(row)
    columns = ["game", "method", "update", "seeds", "episodes",
               *(f"{measure}{end}" for measure in MEASURES for end in ("", "_ci95_low", "_ci95_high")),
               "score_normalised", "score_normalised_ci95_low", "score_normalised_ci95_high", "demonstrator_mean",
               "random_mean"]
    return pd.DataFrame(rows, columns=columns)  # the columns also without rows: a study none of whose cells has run


CARRY_OVER_SCORE = 0.5  # docs/studies.md's rule: mean normalised score at least this, its interval's low end above 0
DESIGN_GAMES_CARRYING = 2


def carries_over(table: pd.DataFrame) -> pd.Series:
    """Per row: the mean normalised score is at least 0.5 and the low end of its 95% interval over seeds above 0
    (one seed has no interval, so it never carries over)."""
    return ((table["score_normalised"] >= CARRY_OVER_SCORE) & (table["score_normalised_ci95_low"] > 0)).fillna(False)


def default_design(table: pd.DataFrame, method: str = "dqfd") -> dict | None:
    """docs/studies.md's rule: the budget P is the smallest rung at which at least two games carry over (the top
    rung if none does); the games are the two carrying over at P with the highest normalised scores and the
    non-carrying game with the lowest. If fewer than two carry over at P, the non-carrying games with the highest
    scores fill their places. None when the method has no rows."""
    mine = table[(table["method"] == method) & table["score_normalised"].notna()].assign(
        carries=lambda rows: carries_over(rows))
    if mine.empty:
        return None
    carrying = mine[mine["carries"]].groupby("update")["game"].nunique()
    enough = carrying[carrying >= DESIGN_GAMES_CARRYING]
    budget = int(enough.index.min()) if len(enough) else int(mine["update"].max())
    at_budget = mine[mine["update"] == budget].sort_values("score_normalised", ascending=False)
    carrying_games = list(at_budget.loc[at_budget["carries"], "game"])[:DESIGN_GAMES_CARRYING]
    rest = list(at_budget.loc[~at_budget["carries"], "game"])
    control = rest.pop() if rest else None
    fill = rest[:DESIGN_GAMES_CARRYING - len(carrying_games)]
    return {"method": method, "budget": budget,
            "carrying": {int(update): sorted(group.loc[group["carries"], "game"])
                         for update, group in mine.groupby("update")},
            "games": carrying_games + fill + ([control] if control else []), "carrying_picked": carrying_games,
            "filled": fill, "control": control,
            "seeds": int(at_budget["seeds"].min())}


def design_markdown(design: dict | None) -> list[str]:
    if design is None:
        return []
    lines = ["", f"**The default matrix's rule applied** (docs/studies.md, \"The rule that picks the default matrix\"; "
                 f"`{design['method']}`; fewest seeds of a game at the budget: {design['seeds']}). Games carrying over "
                 f"(mean normalised score ≥ {CARRY_OVER_SCORE} and the low end of its 95% interval above 0), per "
                 "rung:", ""]
    lines += [f"- {update:,}: {', '.join(games) if games else 'none'}" for update, games in design["carrying"].items()]
    filled = design["filled"]
    lines += ["", f"Pretraining budget P = {design['budget']:,} updates. Games: "
                  f"{', '.join(design['carrying_picked']) or 'none'} carrying over"
                  + (f", {', '.join(filled)} filling the places of carrying games (fewer than two carry over)"
                     if filled else "")
                  + (f"; {design['control']}, the game that does not carry over with the lowest normalised score."
                     if design["control"] else "; every game carries over, so there is no control game.")]
    return lines


def to_markdown(table: pd.DataFrame) -> str:
    def estimate(row, measure, scale=1.0, digits=1):
        mean, low, high = (row[measure] * scale, row[f"{measure}_ci95_low"] * scale,
                           row[f"{measure}_ci95_high"] * scale)
        if pd.isna(mean):
            return "–"
        return f"{mean:.{digits}f}" if pd.isna(low) else f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"

    lines = ["| game | method | pretraining updates | seeds | score | normalised | agreement on own states, % | "
             "agreement on demo states, % |", "|---|---|---|---|---|---|---|---|"]
    for row in table.to_dict("records"):
        lines.append(f"| {row['game']} | {row['method']} | {row['update']:,} | {row['seeds']} | "
                     f"{estimate(row, 'score')} | {estimate(row, 'score_normalised', digits=2)} | "
                     f"{estimate(row, 'expert_agreement', 100, 0)} | {estimate(row, 'demo_agreement', 100, 0)} |")
    lines += ["", "Mean over seeds of each run's mean over its evaluation episodes at that rung, with a 95% t-interval "
              "over seeds. Normalised: (score − random) / (demonstrator mean − random). Agreement: the share of steps "
              "on which the greedy action is the scripted demonstrator's, on the states the agent reaches itself "
              "(own) and on the demonstration states (demo)."]
    lines += design_markdown(default_design(table))
    return "\n".join(lines) + "\n"


def transfer_figure(rungs: pd.DataFrame, table: pd.DataFrame, methods: list[str], width: float):
    """Per game two panels, the score above and the two agreements below, against pretraining updates (log scale).
    Each seed's score is drawn thin and the mean over seeds thick, since with a few seeds an interval band says less
    than the seeds themselves; methods differ in colour and in marker, so lines that coincide stay apart. The score
    panel fits its y-range to the methods, with the game's demonstrator and random play (analysis/panels.py)."""
    from matplotlib.lines import Line2D

    from .panels import draw_references, name_beyond, references, score_limits
    from .style import PANEL_WIDTH, legend_below, message_figure, method_style, new_figure

    games = sorted(table["game"].unique()) if len(table) else []
    if not games:
        return message_figure("No transfer study: no run of this matrix has a pretraining ladder.", width)
    columns = min(len(games), 3, int(width / PANEL_WIDTH))
    rows = -(-len(games) // columns)
    heights = [1.15, 0.9] * rows
    figure, axes = new_figure(width, sum(heights), nrows=2 * rows, ncols=columns, sharex=True,
                              gridspec_kw={"height_ratios": heights})
    baselines = table.groupby("game")[["demonstrator_mean", "random_mean"]].first()
    beyond = []
    for index, game in enumerate(games):
        top, bottom = axes[2 * (index // columns), index % columns], axes[2 * (index // columns) + 1, index % columns]
        levels = []
        for method in methods:
            mine = table[(table["game"] == game) & (table["method"] == method)]
            if mine.empty:
                continue
            style = method_style(method)
            for _, seed in rungs[(rungs["game"] == game) & (rungs["method"] == method)].groupby("seed"):
                top.plot(seed["update"], seed["score"], color=style["color"], alpha=0.3, linewidth=0.6)
                levels.extend(seed["score"])
            top.plot(mine["update"], mine["score"], color=style["color"], marker=style["marker"])
            bottom.plot(mine["update"], 100 * mine["expert_agreement"], color=style["color"], marker=style["marker"])
            bottom.plot(mine["update"], 100 * mine["demo_agreement"], color=style["color"], marker=style["marker"],
                        linestyle=":", linewidth=0.9, markerfacecolor="white")
            levels.extend(mine["score"])
        refs = references(baselines, game)
        top.set_ylim(*score_limits(levels, refs))
        beyond.append((top, draw_references(top, refs)))
        top.set_title(game)
        bottom.set_ylim(0, 100)
        bottom.set_xscale("log")
        if index % columns == 0:
            top.set_ylabel("score")
            bottom.set_ylabel("agreement, %")
        if index + columns >= len(games):  # the lowest game of its column
            bottom.set_xlabel("pretraining updates")
    for extra in range(len(games), rows * columns):
        for row in (0, 1):
            axes[2 * (extra // columns) + row, extra % columns].set_visible(False)
    proxies = [(Line2D([], [], color=method_style(method)["color"], marker=method_style(method)["marker"]), method)
               for method in methods if (table["method"] == method).any()]
    proxies += [(Line2D([], [], color="black", alpha=0.3, linewidth=0.6), "one seed's score"),
                (Line2D([], [], color="black"), "agreement, own states"),
                (Line2D([], [], color="black", linestyle=":", marker="o", markerfacecolor="white", linewidth=0.9),
                 "agreement, demo states")]
    handles = {label: handle for axes_ in axes.flat for handle, label in zip(*axes_.get_legend_handles_labels())}
    proxies += [(handle, label) for label, handle in handles.items()]  # the game's references
    legend = legend_below(figure, [handle for handle, _ in proxies], [label for _, label in proxies])
    figure.set_figheight(sum(heights) + legend + 0.1)
    name_beyond(figure, beyond)
    return figure


def plot_transfer(rungs: pd.DataFrame, table: pd.DataFrame, methods: list[str], out) -> None:
    from .style import save

    save(lambda width: transfer_figure(rungs, table, methods, width), out)
