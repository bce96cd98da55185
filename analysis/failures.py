"""The cells of the matrix that have no complete run, each with the reason its log gives.

The workflow calls this when it ends (with `--keep-going`, after every other cell has finished), so a researcher sees
at once which cells are missing from the tables and why. A cell whose training log holds an error line *failed*; one
whose log holds none was *stopped* (killed, interrupted, or still running in another Snakemake process on the same
results folder), and rerunning it resumes from its last checkpoint; a cell without a log was *not run*: not targeted
yet, or a job it needs failed first.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from agents.io import write_csv, write_text


NOT_RUN = "no training log (not targeted yet, or a job it needs failed, or the workflow stopped first)"
STOPPED = ("no error in its training log: killed, interrupted, or still running in another Snakemake process; "
           "rerunning resumes it from its last checkpoint")
STATUSES = ("failed", "stopped", "not run")  # of a cell without a complete run, in the order the reports count them


def last_error(log: Path) -> str | None:
    """The log's last error line (the agent's `error: ...` or an exception's `SomeError: ...`), None without one."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:") or "Error" in line.split(":")[0]]
    return errors[-1] if errors else None


def failed_cells(results: str | Path, cells) -> pd.DataFrame:
    results = Path(results)
    rows = []
    for game, method, demos, seed in cells:
        if (results / f"runs/{game}/{method}/{demos}/seed_{seed}/summary.json").is_file():
            continue
        log = results / f"logs/train/{game}_{method}_{demos}_seed_{seed}.log"
        error = last_error(log) if log.is_file() else None
        status, reason = ("failed", error) if error else ("stopped", STOPPED) if log.is_file() else ("not run", NOT_RUN)
        rows.append({"game": game, "method": method, "demos": demos, "seed": seed, "status": status,
                     "reason": reason, "log": str(log)})
    return pd.DataFrame(rows, columns=["game", "method", "demos", "seed", "status", "reason", "log"])


def report(results: str | Path, cells) -> pd.DataFrame:
    """Write tables/failed_cells.{csv,md} when a cell has no complete run; remove them when every cell has one, so no
    report goes stale."""
    failed = failed_cells(results, cells)
    csv, markdown = Path(results) / "tables/failed_cells.csv", Path(results) / "tables/failed_cells.md"
    if failed.empty:
        csv.unlink(missing_ok=True)
        markdown.unlink(missing_ok=True)
        return failed
    write_csv(csv, failed)
    write_text(markdown, to_markdown(failed, len(cells)))
    return failed


def counts(failed: pd.DataFrame) -> str:
    """How many cells are failed, stopped and not run, in words."""
    return ", ".join(f"{int((failed['status'] == status).sum())} {status}" for status in STATUSES)


def to_markdown(failed: pd.DataFrame, total: int) -> str:
    if failed.empty:
        return f"All {total} cells of the matrix have a complete run.\n"
    lines = [f"{len(failed)} of {total} cells have no complete run: {counts(failed)}.",
             "", "| game | method | demos | seed | status | reason |", "|---|---|---|---|---|---|"]
    lines += [f"| {row.game} | {row.method} | {row.demos} | {row.seed} | {row.status} | "
              f"{row.reason.replace('|', '/')} |" for row in failed.itertuples()]
    return "\n".join(lines) + "\n"
