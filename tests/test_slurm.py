"""The tiny config through profiles/slurm on a real SLURM cluster, against a local run of the same config.

`sudo bash scripts/local_slurm.sh start` brings up a one-node cluster on this machine (CI does so before the tests);
where no cluster answers, these tests skip. The matrix is the tiny config's on Pong (its three methods on both demo
sets, five cells), so that CI stays within a few minutes; the whole tiny config runs the same way. One cluster run
serves every test: each job is a SLURM job with the request Snakemake derives from the config; two training jobs are
interrupted right after their first checkpoint, one by cancelling its job step (the Snakemake profile's retry
resubmits it), one by `scontrol requeue` (SLURM starts the same job again, as a partition that preempts by requeueing
does); a diverging method is added so that a failed cell is reported while the rest completes. A second invocation
without that method builds the tables, and everything is compared with the local run."""
import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from agents.checkpoint import Checkpoints
from test_workflow import copy_workflow

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

# A cluster without job accounting: job states come from squeue (sacct has no database to read); no account is asked
# for. The short first status check only makes the test quicker.
NO_ACCOUNTING = ["--slurm-status-command", "squeue", "--slurm-no-account"]
QUICK_STATUS = ["--slurm-init-seconds-before-status-checks", "5"]
RUNG = 10  # DQfD cells are evaluated at this pretraining update and checkpoint there: a known point to resume from
MATRIX = {"games": ["Pong"], "method_settings": {"dqfd": {
    "pretrain_eval_updates": {"value": [RUNG], "origin": "cluster test: a checkpoint at a known update"},
    "pretrain_eval_episodes": {"value": 1, "origin": "cluster test"}}}}
UNSTABLE = {"algorithm": "dqfd", "description": "diverges at once",
            "settings": {"use_demos": False, "pretrain_updates": 0, "lambda_supervised": 0.0,
                         "learning_rate": 1.0e30, "learning_starts": 50}}
INTERRUPTED = {("Pong", "dqfd", "scripted_noise0_ep1", 0): "scancel step",
               ("Pong", "dqfd", "scripted_noise0p5_ep1", 0): "scontrol requeue"}
TIMEOUT_S = 1800


def cluster_or_skip():
    """The cluster's sinfo version, or a skip with one line saying why there is none."""
    hint = "`sudo bash scripts/local_slurm.sh start` starts a local one"
    if shutil.which("sinfo") is None:
        pytest.skip(f"no SLURM here (no sinfo on PATH); {hint}")
    pytest.importorskip("snakemake_executor_plugin_slurm", reason="pip install -e '.[cluster]' adds the SLURM plugin")
    nodes = subprocess.run(["sinfo", "--noheader", "--format", "%T"], capture_output=True, text=True, timeout=60)
    states = nodes.stdout.split()
    if nodes.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        reason = (nodes.stderr.strip().splitlines() or [f"node states {states}"])[-1]
        pytest.skip(f"no SLURM cluster takes jobs here ({reason}); {hint}")
    return subprocess.run(["sinfo", "--version"], capture_output=True, text=True).stdout.strip()


def snakemake_command(*args):
    return [sys.executable, "-m", "snakemake", *args]


def megabytes(memory):
    """squeue's memory request (2101M, 4G) in MB."""
    return int(float(memory[:-1]) * {"M": 1, "G": 1024, "T": 1024**2}[memory[-1]])


def minutes(limit):
    """squeue's time limit ([days-]hours:minutes:seconds or minutes:seconds) in minutes."""
    days, _, clock = limit.rpartition("-")
    parts = [int(part) for part in clock.split(":")]
    seconds = sum(value * 60**power for power, value in enumerate(reversed(parts)))
    return int(days or 0) * 1440 + seconds // 60


class Watcher(threading.Thread):
    """Records every job of the run as squeue shows it, and interrupts the chosen training jobs right after their
    first checkpoint is written."""

    def __init__(self, process, workdir):
        super().__init__(daemon=True)
        self.process, self.workdir = process, workdir
        self.jobs, self.interruptions, self.errors = {}, {}, []

    def run(self):
        try:
            while self.process.poll() is None:
                self.poll()
                time.sleep(0.5)
        except Exception as error:  # reported by the test, not lost in the thread
            self.errors.append(repr(error))

    def poll(self):
        listing = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%k|%C|%m|%l|%T|%Z"],
                                 capture_output=True, text=True, timeout=60).stdout
        for line in listing.splitlines():
            job_id, comment, cpus, memory, limit, state, workdir = line.split("|")
            if Path(workdir).resolve() == self.workdir.resolve():  # this run's jobs only
                self.jobs[job_id] = {"comment": comment, "cpus": int(cpus), "mem": memory, "limit": limit,
                                     "state": state}
        for cell, how in INTERRUPTED.items():
            if cell in self.interruptions:
                self.release(self.interruptions[cell])
                continue
            game, method, demos, seed = cell
            kept = Checkpoints(self.workdir / f"results/tiny/checkpoints/{game}/{method}/{demos}/seed_{seed}").files()
            comment = f"rule_train_wildcards_{game}_{method}_{demos}_{seed}"
            running = [job for job, info in self.jobs.items()
                       if info["comment"] == comment and info["state"] == "RUNNING"]
            if kept and running:
                command = (["scancel", f"{running[0]}.0"] if how == "scancel step" else
                           ["scontrol", "requeue", running[0]])
                result = subprocess.run(command, capture_output=True, text=True, timeout=60)
                self.interruptions[cell] = {"job": running[0], "how": " ".join(command), "checkpoint": kept[-1].name,
                                            "rc": result.returncode, "stderr": result.stderr.strip()}

    def release(self, interruption):
        """SLURM holds a requeued job back for two minutes; let it start again at once."""
        job = interruption["job"]
        if interruption["how"].startswith("scontrol requeue") and "released" not in interruption and \
                self.jobs.get(job, {}).get("state") == "PENDING":
            subprocess.run(["scontrol", "update", f"JobId={job}", "StartTime=now"], check=True, timeout=60)
            interruption["released"] = True


def submissions(output):
    """SLURM job id → (rule, wildcards, Snakemake's resource request), from the run's own log."""
    requests, jobs = {}, {}
    for block in re.split(r"\n(?=\[.*\d{4}\]\n)", output):
        rule = re.search(r"^(?:local)?rule (\w+):", block, flags=re.MULTILINE)
        number = re.search(r"^\s+jobid: (\d+)", block, flags=re.MULTILINE)
        if rule and number:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, flags=re.MULTILINE)
            resources = re.search(r"^\s+resources: (.*)$", block, flags=re.MULTILINE)
            requests[number.group(1)] = (rule.group(1), wildcards.group(1) if wildcards else "",
                                         dict(re.findall(r"(\w+)=([^,]+)", resources.group(1)) if resources else []))
    for number, slurm_id in re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output):
        jobs[slurm_id] = requests[number]
    return jobs


def write_overlay(path, content):
    path.write_text(yaml.safe_dump(content))
    return str(path)


@pytest.fixture(scope="module")
def cluster():
    return cluster_or_skip()


@pytest.fixture(scope="module")
def local_run(cluster, tmp_path_factory):
    """The same matrix run locally: the reference every cluster output is compared with."""
    folder = tmp_path_factory.mktemp("local")
    workdir = copy_workflow(folder / "clone")
    matrix = write_overlay(folder / "matrix.yaml", MATRIX)
    start = time.monotonic()
    result = subprocess.run(snakemake_command("--cores", "2", "--configfile", "config/tiny.yaml", matrix),
                            cwd=workdir, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return {"workdir": workdir, "wall_s": time.monotonic() - start, "output": result.stdout + result.stderr}


@pytest.fixture(scope="module")
def cluster_run(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("slurm")
    workdir = copy_workflow(folder / "clone")
    matrix = write_overlay(folder / "matrix.yaml", MATRIX)
    tiny = yaml.safe_load((workdir / "config/tiny.yaml").read_text())
    unstable = write_overlay(folder / "unstable.yaml", {"methods": tiny["methods"] + ["pdd_dqn_unstable"],
                                                        "method_definitions": {"pdd_dqn_unstable": UNSTABLE}})
    profile = ["--profile", "profiles/slurm", *NO_ACCOUNTING, *QUICK_STATUS, "--configfile", "config/tiny.yaml", matrix]
    start = time.monotonic()
    with open(folder / "first.log", "w") as log:
        process = subprocess.Popen(snakemake_command(*profile, unstable), cwd=workdir, stdout=log,
                                   stderr=subprocess.STDOUT, text=True)
        watcher = Watcher(process, workdir)
        watcher.start()
        try:
            process.wait(timeout=TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.kill()
            watcher.join(timeout=60)
    first_wall_s = time.monotonic() - start
    first = (folder / "first.log").read_text()
    failed_report = (workdir / "results/tiny/tables/failed_cells.md")
    failed = {"returncode": process.returncode, "report": failed_report.read_text() if failed_report.is_file() else "",
              "csv": pd.read_csv(workdir / "results/tiny/tables/failed_cells.csv")
              if failed_report.is_file() else None}
    # The matrix without the diverging method: its cells are done, so only the tables and figures are left.
    second = subprocess.run(snakemake_command(*profile), cwd=workdir, capture_output=True, text=True,
                            timeout=TIMEOUT_S)
    wall_s = time.monotonic() - start
    record = {"slurm": cluster, "plugin": _version("snakemake-executor-plugin-slurm"),
              "snakemake": _version("snakemake"), "first_wall_s": round(first_wall_s, 1),
              "wall_s": round(wall_s, 1), "interruptions": {"/".join(map(str, cell)): info for cell, info in
                                                             watcher.interruptions.items()}}
    (folder / "trial.json").write_text(json.dumps(record, indent=1))
    return {"workdir": workdir, "first": first, "second": second, "failed": failed, "watcher": watcher,
            "record": record, "folder": folder}


def _version(package):
    from importlib.metadata import version

    return version(package)


def cells(workdir):
    runs = workdir / "results/tiny/runs"
    return sorted(path.relative_to(runs) for path in runs.glob("*/*/*/seed_*") if (path / "summary.json").is_file())


def run_outcome(run):
    """Everything a run produced except wall-clock times and the machine's description."""
    summary = json.loads((run / "summary.json").read_text())
    summary.pop("wall_s")
    summary.pop("cpu_s")
    config = yaml.safe_load((run / "config.yaml").read_text())
    for record in (summary, config):
        if record.get("demos"):  # the demo file's hash covers its recording time; content_sha256 compares the rest
            record["demos"].pop("sha256")
    tables = {name: pd.read_csv(run / name).drop(columns=["wall_s"], errors="ignore")
              for name in ("progress.csv", "eval.csv", "pretrain_eval.csv") if (run / name).stat().st_size}
    return summary, tables, config, torch.load(run / "model.pt", weights_only=True)


def assert_same_run(first, second):
    (summary, tables, config, weights), (other_summary, other_tables, other_config, other_weights) = first, second
    assert summary == other_summary
    assert config == other_config
    assert tables.keys() == other_tables.keys()
    for name in tables:
        pd.testing.assert_frame_equal(tables[name], other_tables[name], obj=name)
    assert weights.keys() == other_weights.keys()
    assert all(torch.equal(weights[key], other_weights[key]) for key in weights)


def demo_content(path):
    """A demo file's arrays and metadata, without the time it was recorded at."""
    with np.load(path) as demos:
        arrays = {name: demos[name] for name in demos.files if name != "metadata"}
        metadata = json.loads(demos["metadata"].tobytes())
    metadata.pop("recorded_at")
    return arrays, metadata


def assert_same_demos(path, other):
    (arrays, metadata), (other_arrays, other_metadata) = demo_content(path), demo_content(other)
    assert metadata == other_metadata, path
    assert arrays.keys() == other_arrays.keys() and all(np.array_equal(arrays[name], other_arrays[name])
                                                        for name in arrays), path


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_cluster_run_completes_every_cell_as_slurm_jobs_with_the_derived_request(cluster_run, local_run):
    workdir, first = cluster_run["workdir"], cluster_run["first"]
    assert not cluster_run["watcher"].errors, cluster_run["watcher"].errors
    assert cluster_run["second"].returncode == 0, (cluster_run["second"].stdout + cluster_run["second"].stderr)[-3000:]
    jobs = submissions(first)
    assert jobs, first[-3000:]
    expected = sorted(cells(local_run["workdir"]))
    assert len(expected) == 5 and sorted(cells(workdir)) == expected
    trained = {"{game}/{method}/{demos}/seed_{seed}".format(**dict(pair.split("=") for pair in wildcards.split(", ")))
               for rule, wildcards, _ in jobs.values() if rule == "train"}
    assert trained >= {cell.as_posix() for cell in expected}
    # Only the analysis is left to the second invocation, and it runs on the submitting machine.
    assert "has been submitted with SLURM jobid" not in cluster_run["second"].stdout + cluster_run["second"].stderr
    seen = cluster_run["watcher"].jobs
    for slurm_id, (rule, wildcards, request) in jobs.items():
        assert slurm_id in seen, f"job {slurm_id} ({rule} {wildcards}) never showed in squeue"
        if "mem_mb" in request:
            assert megabytes(seen[slurm_id]["mem"]) == int(request["mem_mb"]), (rule, wildcards, seen[slurm_id])
        if rule == "train":
            assert minutes(seen[slurm_id]["limit"]) == int(request["runtime"]), (wildcards, seen[slurm_id], request)
            assert request["gpu"] == "0" and seen[slurm_id]["cpus"] == 1  # threads_per_run of the tiny config
    record = cluster_run["record"]
    record.update(jobs=len(jobs), train_jobs=sum(rule == "train" for rule, _, _ in jobs.values()),
                  local_wall_s=round(local_run["wall_s"], 1))
    (cluster_run["folder"] / "trial.json").write_text(json.dumps(record, indent=1))
    print(json.dumps(record, indent=1))


def test_the_cluster_runs_equal_the_local_runs(cluster_run, local_run):
    ours, theirs = cluster_run["workdir"] / "results/tiny", local_run["workdir"] / "results/tiny"
    for cell in cells(local_run["workdir"]):
        assert_same_run(run_outcome(ours / "runs" / cell), run_outcome(theirs / "runs" / cell))
    for path in sorted((theirs / "demos").rglob("*.npz")):
        assert_same_demos(ours / path.relative_to(theirs), path)
    for path in sorted((theirs / "demos").rglob("*.csv")) + sorted((theirs / "baselines").glob("*.csv")):
        assert sha256(path) == sha256(ours / path.relative_to(theirs)), path
    for table in sorted((theirs / "tables").glob("*.csv")):
        local, cluster = pd.read_csv(table), pd.read_csv(ours / "tables" / table.name)
        # Wall-clock and CPU times are the machine's, not the run's: a requeued job sums two processes' CPU time.
        times = [column for column in local.columns if "wall" in column or column.startswith("cpu_s")]
        pd.testing.assert_frame_equal(cluster.drop(columns=times), local.drop(columns=times), obj=table.name)


@pytest.mark.parametrize("cell", sorted(INTERRUPTED), ids=lambda cell: INTERRUPTED[cell].replace(" ", "_"))
def test_an_interrupted_training_job_resumes_from_its_checkpoint_and_ends_identical(cell, cluster_run, local_run):
    game, method, demos, seed = cell
    interruption = cluster_run["watcher"].interruptions.get(cell)
    assert interruption and interruption["rc"] == 0, (interruption, cluster_run["first"][-3000:])
    assert interruption["checkpoint"] == f"checkpoint-{RUNG:012d}.pt"  # interrupted after the rung, before the end
    jobs = [slurm_id for slurm_id, (rule, wildcards, _) in submissions(cluster_run["first"]).items()
            if rule == "train" and wildcards == f"game={game}, method={method}, demos={demos}, seed={seed}"]
    if INTERRUPTED[cell] == "scancel step":  # the job failed; Snakemake's retry submitted a new one
        assert len(jobs) == 2 and jobs[0] == interruption["job"], jobs
    else:  # SLURM ran the same job again
        assert jobs == [interruption["job"]], jobs
    workdir, run = cluster_run["workdir"], f"runs/{game}/{method}/{demos}/seed_{seed}"
    log = (workdir / f"results/tiny/logs/train/{game}_{method}_{demos}_seed_{seed}.log").read_text()
    assert f"resumed from a checkpoint at update {RUNG}, agent step 0" in log, log[-3000:]
    assert not list((workdir / f"results/tiny/checkpoints/{game}/{method}/{demos}/seed_{seed}").glob("*"))
    ours, theirs = workdir / "results/tiny" / run, local_run["workdir"] / "results/tiny" / run
    assert_same_run(run_outcome(ours), run_outcome(theirs))
    interruption.update(resumed_at=f"update {RUNG}, agent step 0", model_sha256=sha256(ours / "model.pt"),
                        local_model_sha256=sha256(theirs / "model.pt"), slurm_jobs=jobs)
    print(json.dumps({"/".join(map(str, cell)): interruption}, indent=1))


def test_a_failed_cell_on_the_cluster_is_reported_and_the_rest_completes(cluster_run):
    failed, first = cluster_run["failed"], cluster_run["first"]
    assert failed["returncode"] != 0 and failed["csv"] is not None, first[-3000:]
    assert list(zip(failed["csv"]["game"], failed["csv"]["method"])) == [("Pong", "pdd_dqn_unstable")]
    assert failed["csv"]["reason"].str.contains("non-finite loss").all(), failed["csv"]["reason"].tolist()
    assert "training cells without a complete run: 1 failed, 0 stopped, 0 not run" in first
    assert "1 of 6 cells have no complete run" in failed["report"]
    # every other cell of the first invocation completed, and the second one removed the stale report
    assert len(cells(cluster_run["workdir"])) == 5
    assert not (cluster_run["workdir"] / "results/tiny/tables/failed_cells.md").exists()
