"""What every panel of scores shares: its y-range fitted to the methods' scores, and the game's reference scores
(the demonstrator's mean, the unit of every normalised score, its episodes' range, and random play's mean) drawn
across it.

A reference far outside the methods' scores would squeeze them into a flat line at the bottom of the panel
(DemonAttack: methods below 1,000, a demonstrator at 6,390 and best episode at 14,200), so the y-range takes in a
reference only when it lies within NEAR of the methods' span beyond their range; one further out is left outside the
panel and named with its value at the edge it lies beyond, with an arrow.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .style import FONT

ANCHOR_LABEL = "published Atari 100k score (other protocol)"
ANCHOR_STYLE = {"color": "0.5", "linestyle": (0, (1, 1.6)), "linewidth": 0.7}
ANCHOR_TEXT = "0.3"  # the margin names: darker than the lines, for legibility at print size
ANCHOR_GAP = 1.05  # between margin names, in font heights
ANCHOR_MARGIN = 0.5  # inches the margin names take beside a panel ("↑ human" at FONT and its offset): a panel with
# them needs that much more width, or its own names at the edge run over its tick labels

REACH = 3.0  # a reference joins the y-range if the methods' scores keep at least a third of the panel's height
ANCHOR_REACH = 1.5  # an anchor, only if they keep two thirds: context, it never squeezes the runs' curves much
PAD = 0.06  # of the range, above and below, so lines at its ends stay clear of the frame


@dataclass
class Reference:
    """A score level drawn across a panel: a line (low == high) or a band from low to high; `label` names it in the
    legend, `short` at the panel's edge when it lies beyond the y-range."""

    label: str
    short: str
    low: float
    high: float
    style: dict
    direct: bool = False  # named beside its line in the panel's margin (anchors), not only in the legend

    @property
    def is_band(self) -> bool:
        return self.low != self.high


def references(baselines: pd.DataFrame, game: str) -> list[Reference]:
    """The game's demonstrator mean, the range of its episodes, and random play's mean, where `baselines` (indexed by
    game) has them."""
    if game not in baselines.index:
        return []
    row = baselines.loc[game]
    found = []
    if pd.notna(row.get("demonstrator_mean")):
        found.append(Reference("demonstrator: mean", "demonstrator", row["demonstrator_mean"],
                               row["demonstrator_mean"], {"color": "black", "linestyle": (0, (5, 2)),
                                                          "linewidth": 1.0}))
    if row.get("demonstrator_worst", np.nan) < row.get("demonstrator_best", np.nan):  # a band: two episodes or more
        found.append(Reference("demonstrator: worst to best episode", "episodes", row["demonstrator_worst"],
                               row["demonstrator_best"], {"color": "0.55", "alpha": 0.13, "linewidth": 0}))
    if pd.notna(row.get("random_mean")):
        found.append(Reference("random play: mean", "random play", row["random_mean"], row["random_mean"],
                               {"color": "0.45", "linestyle": (0, (5, 1.5, 1, 1.5)), "linewidth": 1.0}))
    return found


def anchor_references(anchors: pd.DataFrame | None, game: str) -> list[Reference]:
    """The game's published Atari 100k scores (analysis/anchors.py), in the anchors file's order; none without it."""
    if anchors is None:
        return []
    rows = anchors[anchors["game"] == game]
    return [Reference(ANCHOR_LABEL, agent, score, score, ANCHOR_STYLE, direct=True)
            for agent, score in zip(rows["agent"], rows["score"])]


def score_limits(levels, refs: list[Reference]) -> tuple[float, float]:
    """The y-range: the methods' levels (what they draw: means, bands, seeds), and each reference level (a band's
    nearer end) that leaves the methods at least 1/REACH of the panel's height (an anchor's: 1/ANCHOR_REACH). Only
    references where no method drew anything (the anchors only where the game has no other)."""
    levels = [float(level) for level in levels if pd.notna(level) and np.isfinite(level)]
    if not levels:
        own = [ref for ref in refs if not ref.direct] or refs
        levels = [value for ref in own for value in (ref.low, ref.high)] or [0.0]
        low, high = min(levels), max(levels)
    else:
        low, high = min(levels), max(levels)
        span = max(high - low, 0.05 * max(abs(low), abs(high)), 1.0)
        nearer = [(ref.low if ref.low > high else ref.high if ref.high < low else None, ref) for ref in refs]
        near = [value for value, ref in nearer if value is not None
                and max(high, value) - min(low, value) <= (ANCHOR_REACH if ref.direct else REACH) * span]
        low, high = min([low, *near]), max([high, *near])
    pad = PAD * max(high - low, 1.0)
    return low - pad, high + pad


def number(value: float) -> str:
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return text.replace("-", "−")


def draw_references(axes, refs: list[Reference]) -> dict[str, list[str]]:
    """Each reference across the panel, in the legend. Returns those beyond the y-range (already set), per side
    ("above", "below"), as the lines that name them with their values, for `name_beyond`."""
    bottom, top = axes.get_ylim()
    beyond = {"above": [], "below": []}
    for ref in refs:
        if ref.is_band:
            axes.axhspan(ref.low, ref.high, label=ref.label, zorder=0, **ref.style)
        else:
            axes.axhline(ref.low, label=ref.label, zorder=1.5, **ref.style)
        if (bottom <= ref.high and ref.low <= top) or ref.direct:  # a direct one is named in the margin, always
            continue
        above = ref.low > top
        # A band (the demonstrator's episodes) lies beyond only where its mean does: named on the line after it.
        beyond["above" if above else "below"].append(
            f"({ref.short} {number(ref.low)}–{number(ref.high)})" if ref.is_band
            else f"{'↑' if above else '↓'} {ref.short} {number(ref.low)}")
    return beyond


def name_beyond(figure, panels: list[tuple]) -> None:
    """For each (axes, beyond) of `panels`: the references beyond its y-range named at the edge they lie beyond, in
    room made for them by widening the y-range on that side, so that the names hide no data. Call it once the figure
    is complete: the room is measured on its layout."""
    if not any(lines for _, beyond in panels for lines in beyond.values()):
        return
    figure.draw_without_rendering()
    for axes, beyond in panels:
        height = axes.get_window_extent().height / figure.dpi * 72  # points
        share = {side: min(0.4, (len(lines) * FONT * 1.25 + 3) / height) if lines else 0.0
                 for side, lines in beyond.items()}
        bottom, top = axes.get_ylim()
        span = (top - bottom) / (1 - share["above"] - share["below"])
        axes.set_ylim(bottom - share["below"] * span, top + share["above"] * span)
        for side, lines in beyond.items():
            if lines:
                above = side == "above"
                axes.annotate("\n".join(lines), xy=(0.985, 1.0 if above else 0.0), xycoords="axes fraction",
                              xytext=(0, -1.5 if above else 1.5), textcoords="offset points", ha="right",
                              va="top" if above else "bottom", fontsize=FONT, linespacing=1.05).set_in_layout(False)


def name_directly(figure, panels: list[tuple]) -> None:
    """For each (axes, refs, (bottom, top)) of `panels`, (bottom, top) the y-range the refs were drawn against (before
    name_beyond widened it): each direct reference named in the panel's right margin by its `short`, level with its
    line where it lies within that range, else with an arrow at the top or bottom of the margin (its value is in the
    score table's anchors: a value here would widen every margin and narrow every panel); the names pushed apart
    where they lie closer than a line of text. Call it last (after name_beyond): the room the names
    take joins the layout, and their places are measured on it."""
    named = [(axes, [ref for ref in refs if ref.direct], limits) for axes, refs, limits in panels]
    named = [entry for entry in named if entry[1]]
    if not named:
        return
    notes = []
    for axes, refs, (bottom, top) in named:
        for ref in sorted(refs, key=lambda ref: ref.low):
            side = "above" if ref.low > top else "below" if ref.low < bottom else None
            text = ref.short if side is None else f"{'↑' if side == 'above' else '↓'} {ref.short}"
            note = axes.annotate(text, xy=(1.0, 0.5), xycoords="axes fraction", xytext=(2.0, 0.0),
                                 textcoords="offset points", ha="left", va="center", fontsize=FONT,
                                 color=ANCHOR_TEXT, annotation_clip=False)
            notes.append((axes, ref, side, note))
    figure.draw_without_rendering()  # the layout, with room for the names
    gap = ANCHOR_GAP * FONT * figure.dpi / 72  # pixels
    for axes in dict.fromkeys(axes for axes, _, _, _ in notes):
        mine = [(ref, side, note) for panel, ref, side, note in notes if panel is axes]
        box = axes.get_window_extent()
        wanted = [box.y1 + gap if side == "above" else box.y0 if side == "below"
                  else axes.transData.transform((0.0, ref.low))[1] for ref, side, _ in mine]
        placed = []
        for y in wanted:  # upwards from the lowest, a gap apart
            placed.append(max(y, placed[-1] + gap) if placed else y)
        ceiling = box.y1
        for index in reversed(range(len(placed))):  # then down from the panel's top, where they overflowed it
            ceiling = min(placed[index], ceiling)
            placed[index] = ceiling
            ceiling -= gap
        middle = (box.y0 + box.y1) / 2
        for (_, _, note), y in zip(mine, placed):
            note.xyann = (2.0, (y - middle) * 72 / figure.dpi)
