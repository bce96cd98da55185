"""One look for every figure: the theme, and one colour per method fixed by its place in the config's method list,
so a method has the same colour in every figure of a run of the workflow."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from agents.io import atomic_write  # noqa: E402


def method_colours(methods: list[str]) -> dict[str, tuple]:
    """Colour-blind-safe colours for up to 10 methods, then tab20, then evenly spaced hues: no two methods share one."""
    name = "colorblind" if len(methods) <= 10 else "tab20" if len(methods) <= 20 else "husl"
    palette = sns.color_palette(name, max(len(methods), 3))
    return {method: palette[index] for index, method in enumerate(methods)}


def theme() -> None:
    sns.set_theme(style="whitegrid", context="paper", font_scale=1.2)


def save(figure, out) -> None:
    atomic_write(out, lambda stream: figure.savefig(stream, format="png", dpi=150, bbox_inches="tight"))
    plt.close(figure)
