# The matrix games × methods × seeds: demonstrations → training runs → tables and learning curves.
# `snakemake --cores N` runs config/config.yaml; `--configfile config/<name>.yaml` lays another config over it.
import re

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


# A config that breaks the schema is refused in one line naming the key, not with jsonschema's dump of the schema.
try:
    validate(config, "config/schema.yaml")
except WorkflowError as error:
    text = str(error)
    problem = re.search(r"ValidationError: (.*)", text)
    where = re.search(r"On instance((?:\[[^\]]+\])*)", text)
    key = ".".join(re.findall(r"\['?([^'\]]+)'?\]", where.group(1))) if where else ""
    raise WorkflowError(f"config error: {key or 'the workflow config'}: "
                        f"{problem.group(1) if problem else text.splitlines()[0]}; "
                        "config/schema.yaml says what each key takes")


include: "rules/common.smk"


if not FROM_STORED_RUNS:

    include: "rules/demos.smk"
    include: "rules/train.smk"


include: "rules/analysis.smk"


report: "report/workflow.rst"


# Every cell's summary.json is a target of its own: Snakemake trains a cell whose summary is missing whatever its
# metadata in .snakemake/ holds (without that metadata, as in a results folder copied elsewhere, it would see the
# tables up to date and train nothing).
rule all:
    default_target: True
    input:
        ANALYSIS_OUTPUTS,
        [f"{RESULTS}/runs/{g}/{m}/{d}/seed_{s}/summary.json" for g, m, d, s in CELLS],


# With --keep-going the rest of the matrix finishes after a cell fails; the failed cells are then listed.
onsuccess:
    report_failed_cells()


onerror:
    missing = report_failed_cells()
    failed = missing[missing["status"] == "failed"]
    if len(missing):
        print(f"{len(failed)} training cells failed, {len(missing) - len(failed)} not run; "
              f"see {RESULTS}/tables/failed_cells.md")
    if len(failed):
        print(failed[["game", "method", "demos", "seed", "reason"]].to_string(index=False))
