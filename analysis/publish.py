"""Reference results: a config's run records and analysis outputs copied from its working results folder into
`reference/<config>/`, which git tracks. What is copied is what rebuilds and audits every table: each complete run's
records (not its weights or checkpoints), the demo sets' per-episode scores, random play's scores, and the tables and
figures; not `tables/failed_cells.*`, the workflow's report on its last run's cells (which names the logs by this
machine's paths, and lists as failed a cell another Snakemake still runs), rebuilt by nothing from the records. `snakemake figures --forceall --configfile config/<config>.yaml --config results_dir=reference/<config>`
then rebuilds the tables and figures from the records alone.

Records are published under today's names (agents/renames.py): a results folder written before a rename is
published as if written today, and whatever else the reference folder holds under old names is migrated too.
"""
from __future__ import annotations

from pathlib import Path

from agents.io import atomic_write
from agents.renames import Change, migrate, migrated, new_path

RUN_STATUS = ("failed_cells.csv", "failed_cells.md")  # tables/ of the workflow's last run, not of the records
RUN_RECORDS = ("summary.json", "progress.csv", "eval.csv", "pretrain_eval.csv", "interaction_eval.csv", "config.yaml",
               "provenance.json")


def records(results: Path) -> list[Path]:
    """The files of a results folder that belong to its reference, relative to it."""
    found = []
    for summary in sorted(results.glob("runs/*/*/*/seed_*/summary.json")):  # written last: the run is complete
        found += [path for name in RUN_RECORDS if (path := summary.parent / name).is_file()]
    for pattern in ("demos/*/*.stats.csv", "baselines/*.csv", "tables/*", "figures/*"):
        found += sorted(path for path in results.glob(pattern) if path.is_file() and path.name not in RUN_STATUS)
    return [path.relative_to(results) for path in found]


def publish(results: str | Path, reference: str | Path) -> tuple[list[Path], list[Change]]:
    """Copy the records into `reference`, under today's names; returns the files written there (relative to it) and
    what migrating the reference folder's other files changed."""
    results, reference = Path(results), Path(reference)
    published = []
    for path in records(results):
        contents, _ = migrated(path, results / path)
        data = contents if contents is not None else (results / path).read_bytes()
        atomic_write(reference / new_path(path), lambda stream, data=data: stream.write(data))
        published.append(new_path(path))
    return published, migrate(reference)
