# The matrix games × methods × seeds: demonstrations → training runs → tables and learning curves.
# `snakemake --cores N` runs config/config.yaml; `--configfile config/<name>.yaml` lays another config over it.
import os
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, update_config, validate

from agents.config_file import WORKFLOW_CONFIG, read_config_file, typed_as_yaml
from agents.errors import ConfigError

min_version("9.0")


# Planning stops with the message as the one line the user reads: a WorkflowError would print the file, line and
# source line that raised it as well, a traceback for what is the user's mistake, not the workflow's.
refuse = sys.exit


# Snakemake's YAML reader keeps the last of a key given twice, silently, and names neither file nor line of a YAML
# error: the suite's reader reads every config file first and says both. (A --configfile that is not YAML at all
# Snakemake refuses before this file runs.)
try:
    for path in [WORKFLOW_CONFIG, *workflow.config_settings.configfiles]:
        read_config_file(Path(os.path.relpath(path)))  # as the command line named it, from here
except ConfigError as error:
    refuse(f"config error: {error}")


configfile: "config/config.yaml"


# `--config seeds=[0,1]`: Snakemake reads what a list or mapping on its command line holds as text ('0', '1'), and
# `--config tensorboard=true` as the text 'true'.
for key, value in workflow.config_settings.config.items():
    if isinstance(value, (list, tuple, dict)) or (isinstance(value, str) and value.lower() in ("true", "false")):
        update_config(config, {key: typed_as_yaml(value)})


# A config that breaks the schema is refused in one line naming the key, not with jsonschema's dump of the schema.
try:
    validate(config, "config/schema.yaml")
except WorkflowError as error:
    text = str(error)
    problem = re.search(r"ValidationError: (.*)", text)
    where = re.search(r"On instance((?:\[[^\]]+\])*)", text)
    key = ".".join(re.findall(r"\['?([^'\]]+)'?\]", where.group(1))) if where else ""
    refuse(f"config error: {key or 'the workflow config'}: "
           f"{problem.group(1) if problem else text.splitlines()[0]}; "
           "config/schema.yaml says what each key takes")


include: "rules/common.smk"


if not FROM_STORED_RUNS:

    include: "rules/demos.smk"
    include: "rules/train.smk"


include: "rules/analysis.smk"


report: "report/workflow.rst"


# `snakemake --report` packs the tables and figures, which exist only once the matrix has run; before that Snakemake
# stops at the first one missing with a message that does not say what to run.
if "--report" in sys.argv:
    absent = [path for path in ANALYSIS_OUTPUTS if not Path(path).exists()]
    if absent:
        more = f" and {len(absent) - 1} more tables and figures" if len(absent) > 1 else ""
        refuse(f"--report packs the tables and figures of {RESULTS}, and {absent[0]}{more} do not exist "
               "yet; run the matrix first (the same command without --report), then ask for the report")


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
    from analysis.failures import counts

    missing = report_failed_cells()
    failed = missing[missing["status"] == "failed"]
    if len(missing):
        print(f"training cells without a complete run: {counts(missing)}; see {RESULTS}/tables/failed_cells.md")
    if len(failed):
        print(failed[["game", "method", "demos", "seed", "reason"]].to_string(index=False))
