"""The files a figure is written to: each figure is drawn at two print widths, and each drawing is saved as PDF (for
the paper) and PNG (for the report and a quick look).

- `<name>.png`, `<name>.pdf`: double column, 7 in wide (the PNG is the one Snakemake's report shows);
- `<name>_column.png`, `<name>_column.pdf`: single column, 3.5 in wide.

Free of matplotlib, so that the workflow names a figure's outputs while it plans without loading it.
"""
from __future__ import annotations

from pathlib import Path

# Inches: a two-column paper's text width and one column's (the widths of ICML, NeurIPS-in-two-columns, IEEE and
# ACM templates, give or take a few hundredths).
WIDTHS = {"double": 7.0, "column": 3.5}
SUFFIXES = {"double": "", "column": "_column"}
FORMATS = ("png", "pdf")


def figure_files(png: str | Path) -> dict[str, tuple[float, Path]]:
    """Each file of the figure whose double-column PNG is `png`: its key ("png", "pdf", "column_png", "column_pdf"),
    its print width in inches and its path."""
    stem = Path(png).with_suffix("")
    return {f"{size}_{extension}".removeprefix("double_"):
            (width, stem.with_name(f"{stem.name}{SUFFIXES[size]}.{extension}"))
            for size, width in WIDTHS.items() for extension in FORMATS}
