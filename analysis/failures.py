"""The cells of the matrix that have no complete run, each with the reason its log gives.

The workflow calls this when it ends (with `--keep-going`, after every other cell has finished), so a researcher sees
at once which cells are missing from the tables and why. A cell whose training log exists was started and *failed* (or
was stopped); a cell without one was *not run*: not targeted yet, or a job it needs failed first.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from agents.io import write_csv, write_text


NOT_RUN = "no training log (not targeted yet, or a job it needs failed, or the workflow stopped first)"


def last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    return (errors or lines or ["no output in its log"])[-1]


def failed_cells(results: str | Path, cells) -> pd.DataFrame:
    results = Path(results)
    rows = []
    for game, method, demos, seed in cells:
        if (results / f"runs/{game}/{method}/{demos}/seed_{seed}/summary.json").is_file():
            continue
        log = results / f"logs/train/{game}_{method}_{demos}_seed_{seed}.log"
        started = log.is_file()
        rows.append({"game": game, "method": method, "demos": demos, "seed": seed,
                     "status": "failed" if started else "not run", "reason": last_error(log) if started else NOT_RUN,
                     "log": str(log)})
    return pd.DataFrame(rows, columns=["game", "method", "demos", "seed", "status", "reason", "log"])


def report(results: str | Path, cells) -> pd.DataFrame:
    """Write tables/failed_cells.{csv,md} when cells failed; remove them when none did, so no report goes stale."""
    failed = failed_cells(results, cells)
    csv, markdown = Path(results) / "tables/failed_cells.csv", Path(results) / "tables/failed_cells.md"
    if failed.empty:
        csv.unlink(missing_ok=True)
        markdown.unlink(missing_ok=True)
        return failed
    write_csv(csv, failed)
    write_text(markdown, to_markdown(failed, len(cells)))
    return failed


def to_markdown(failed: pd.DataFrame, total: int) -> str:
    if failed.empty:
        return f"All {total} cells of the matrix have a complete run.\n"
    started = int((failed["status"] == "failed").sum())
    lines = [f"{len(failed)} of {total} cells have no complete run: {started} failed, {len(failed) - started} not run.",
             "", "| game | method | demos | seed | status | reason |", "|---|---|---|---|---|---|"]
    lines += [f"| {row.game} | {row.method} | {row.demos} | {row.seed} | {row.status} | "
              f"{row.reason.replace('|', '/')} |" for row in failed.itertuples()]
    return "\n".join(lines) + "\n"
