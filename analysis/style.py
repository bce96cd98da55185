"""One look for every figure of the suite: the theme, one colour, line style and marker per method, the legend
below the panels, and the saving of each figure at both print widths (analysis/figure_files.py).

A method looks the same in every figure of every config: its look is declared here by name, never derived from its
place in a config's method list. Colours are Paul Tol's "muted" scheme, distinct under the common colour-vision
deficiencies; nine colours cannot tell nineteen methods apart alone, so the line style says the method's family
(DQfD and its ablations solid, the DQfD paper's other baselines dashed, the soft-Q family dash-dotted, imitation and
the methods that start from it dotted) and the marker the method. Within a family no two methods share a colour, and
the configs' headline sets (config.yaml's three methods, claims.yaml's six) have a colour each; paper.yaml's eleven
share two colours, each pair across families.
"""
from __future__ import annotations

import math
import zlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.textpath import text_to_path  # noqa: E402

from agents.io import atomic_write  # noqa: E402

from .figure_files import figure_files  # noqa: E402

TOL_MUTED = {"indigo": "#332288", "cyan": "#88CCEE", "teal": "#44AA99", "green": "#117733", "olive": "#999933",
             "sand": "#DDCC77", "rose": "#CC6677", "wine": "#882255", "purple": "#AA4499"}
FAMILIES = {  # family: (its name in a panel's title, its line style)
    "dqfd": ("DQfD family", "-"),
    "baselines": ("baselines", (0, (4, 1.5))),
    "soft_q": ("soft-Q family", (0, (5, 1.5, 1.5, 1.5))),
    "imitation": ("imitation", (0, (1.2, 1.2))),
    "other": ("other methods", (0, (3, 1, 1, 1, 1, 1))),  # only methods not declared below: never a declared look
}
METHOD_LOOKS = {  # every method agents/defaults.yaml defines: (family, colour, marker)
    "dqfd": ("dqfd", "indigo", "o"),
    "dqfd_no_supervised": ("dqfd", "cyan", "^"),
    "dqfd_no_n_step": ("dqfd", "olive", "v"),
    "dqfd_no_l2": ("dqfd", "sand", "d"),
    "dqfd_no_pretrain": ("dqfd", "rose", "H"),
    "dqfd_uniform": ("dqfd", "teal", "8"),
    "apex_dqfd": ("dqfd", "wine", "*"),
    "pdd_dqn": ("baselines", "rose", "s"),
    "dqn": ("baselines", "wine", "P"),
    "adet": ("baselines", "cyan", ">"),
    "her": ("baselines", "sand", "<"),
    "rbs": ("baselines", "olive", "p"),
    "soft_q": ("soft_q", "wine", "h"),
    "soft_q_bc": ("soft_q", "purple", "X"),
    "soft_q_bc_matched": ("soft_q", "green", "X"),  # soft_q_bc's twin, so its marker; its own colour
    "soft_q_pretrain": ("soft_q", "teal", "*"),
    "bc": ("imitation", "green", "D"),
    # Pretrain & finetune and DAgger start from behaviour cloning: imitation's line style. With bc, dqfd, pdd_dqn and
    # rbs (the Atari 100k study's map), six colours.
    "bc_finetune": ("imitation", "purple", "s"),
    "dagger": ("imitation", "teal", "v"),
}
FILLED_MARKERS = "o^vdH8sP><phX*D"  # what a method not declared above picks its marker from

FONT = 7  # points at print size: the smallest text a journal accepts, and every text of a figure is at least this
TITLE_FONT = 8
DPI = 300
PDF_METADATA = {"CreationDate": None}  # no date in the PDF: a figure rebuilt from the same records, the same bytes
LEGEND_ROW = 0.15  # inches per row of legend entries at FONT
PANEL_WIDTH = 1.75  # inches at least for a panel of curves: narrower leaves no room between its tick labels
BAND_ALPHA = 0.15  # an interval band's opacity with one or two bands in a panel


def family(method: str) -> str:
    """The method's family; a method named after a declared one plus a suffix (a sweep, dqfd_margin_0p4) joins that
    one's family."""
    if method in METHOD_LOOKS:
        return METHOD_LOOKS[method][0]
    bases = [base for base in METHOD_LOOKS if method.startswith(f"{base}_")]
    return METHOD_LOOKS[max(bases, key=len)][0] if bases else "other"


def family_title(method: str) -> str:
    return FAMILIES[family(method)][0]


def method_style(method: str) -> dict:
    """Colour, line style and marker of a method, as matplotlib's keywords. A method not declared in METHOD_LOOKS
    (a sweep, a config's own method) gets a colour and marker picked by a checksum of its name, the same in every
    config and run, and the line style no declared method has, so it never looks like a declared one; declare it to
    give it a look of its own."""
    if method in METHOD_LOOKS:
        kind, colour, marker = METHOD_LOOKS[method]
        return {"color": TOL_MUTED[colour], "linestyle": FAMILIES[kind][1], "marker": marker}
    checksum = zlib.crc32(method.encode())
    colours = list(TOL_MUTED.values())
    return {"color": colours[checksum % len(colours)], "linestyle": FAMILIES["other"][1],
            "marker": FILLED_MARKERS[(checksum // len(colours)) % len(FILLED_MARKERS)]}


def band_alpha(bands: int) -> float:
    """The opacity of each of `bands` overlapping bands: lighter the more there are, so that where they overlap they
    stay as light as two, and the lines over them readable."""
    return BAND_ALPHA * 2 / max(bands, 2)


def theme() -> None:
    """Print-size fonts (FONT points; panel titles TITLE_FONT) and thin lines, for figures drawn at their print
    width; TrueType fonts in the PDF (journals refuse the Type 3 fonts matplotlib embeds by default)."""
    sns.set_theme(style="whitegrid", context="paper", rc={
        "font.size": FONT, "axes.titlesize": TITLE_FONT, "axes.labelsize": FONT, "xtick.labelsize": FONT,
        "ytick.labelsize": FONT, "legend.fontsize": FONT, "legend.title_fontsize": FONT, "figure.titlesize": TITLE_FONT,
        "figure.labelsize": FONT,
        "lines.linewidth": 1.2, "lines.markersize": 3.0, "axes.linewidth": 0.6, "grid.linewidth": 0.4,
        "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5, "ytick.major.size": 2.5,
        "xtick.major.pad": 1.5, "ytick.major.pad": 1.5, "axes.labelpad": 2.0, "axes.titlepad": 3.0,
        "legend.frameon": False, "legend.handlelength": 3.0, "legend.columnspacing": 1.2, "legend.borderaxespad": 0.2,
        "pdf.fonttype": 42, "figure.constrained_layout.h_pad": 0.03, "figure.constrained_layout.w_pad": 0.03,
    })


def new_figure(width: float, height: float, **grid):
    """A figure at its print width, laid out by matplotlib's constrained layout (which keeps the width: what does
    not fit shrinks the panels, never widens the figure)."""
    return plt.subplots(figsize=(width, height), layout="constrained", squeeze=False, **grid)


def text_width(text: str, size: float = FONT) -> float:
    """Points the text takes at `size` in the theme's font."""
    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(size=size), ismath=False)
    return width


def legend_columns(labels: list[str], width: float) -> int:
    """As many columns as entries of the longest label fit across `width` inches, rows balanced."""
    entry = (max(map(text_width, labels)) + FONT * (plt.rcParams["legend.handlelength"]
                                                     + plt.rcParams["legend.handletextpad"]
                                                     + plt.rcParams["legend.columnspacing"]))
    columns = max(1, min(len(labels), int(width * 72 / entry)))
    return math.ceil(len(labels) / math.ceil(len(labels) / columns))


def legend_below(figure, handles: list, labels: list[str]) -> float:
    """One legend for every panel, below them; returns the inches it takes, for the figure's height."""
    if not labels:
        return 0.0
    columns = legend_columns(labels, figure.get_figwidth())
    figure.legend(handles, labels, loc="outside lower center", ncol=columns)
    return LEGEND_ROW * math.ceil(len(labels) / columns) + 0.1


def collect_legend(axes_list, last=()) -> tuple[list, list[str]]:
    """Each label once, in the order the panels drew them, those in `last` (the references) after the rest."""
    entries = {}
    for axes in axes_list:
        for handle, label in zip(*axes.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    order = sorted(entries, key=lambda label: label in last)
    return [entries[label] for label in order], order


def message_figure(text: str, width: float):
    """A figure that says in a line or two why there is nothing to draw, rather than an empty or degenerate axis."""
    figure = plt.figure(figsize=(width, 0.6))
    figure.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    return figure


def save(draw, out) -> None:
    """Draw the figure at each print width (`draw(width)` returns it) and write each drawing as PNG and PDF beside
    `out`, the double-column PNG (analysis/figure_files.py names the rest), each file atomically."""
    theme()
    files = figure_files(out).values()
    for width in dict.fromkeys(width for width, _ in files):
        figure = draw(width)
        for path in [path for at, path in files if at == width]:
            kind = path.suffix[1:]
            atomic_write(path, lambda stream, kind=kind: figure.savefig(
                stream, format=kind, dpi=DPI, metadata=PDF_METADATA if kind == "pdf" else None))
        plt.close(figure)
