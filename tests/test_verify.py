"""`python -m analysis verify`: a reference made on this machine is rerun identical, a record that differs is found
with its first difference, and bad inputs are refused in one line before anything trains."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from analysis.__main__ import main
from analysis.verify import Cell, compare_table, pick, progress_label

ROOT = Path(__file__).resolve().parent.parent
TINY = str(ROOT / "config/tiny.yaml")
ENVIRONMENT = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's packages, whichever one is installed


def agents(*arguments):
    done = subprocess.run([sys.executable, "-m", "agents", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=ENVIRONMENT)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The tiny config's Pong pdd_dqn and dqfd cells (on its reference demo set, one scripted episode) trained here
    and published as a reference is: records, demo stats and random play, no weights and no demo file."""
    from analysis.publish import publish

    root = tmp_path_factory.mktemp("verify")
    results, reference = root / "results", root / "reference" / "tiny"
    demos = results / "demos/Pong/scripted_noise0_ep1.npz"
    agents("demos", "--game", "Pong", "--episodes", "1", "--seed", "0", "--noise", "0.0", "--out", str(demos),
           "--stats", str(demos.with_suffix(".stats.csv")), "--config", TINY)
    for method, demo_set in (("pdd_dqn", "none"), ("dqfd", "scripted_noise0_ep1")):
        agents("train", "--game", "Pong", "--method", method, "--seed", "0", "--config", TINY,
               *(["--demos", str(demos)] if method == "dqfd" else []),
               "--out", str(results / f"runs/Pong/{method}/{demo_set}/seed_0"))
    (results / "baselines").mkdir()
    (results / "baselines/Pong.random.csv").write_text("game,episode,score,length\nPong,0,-21.0,800\n"
                                                       "Pong,1,-20.0,900\n")
    publish(results, reference)
    return reference


def verify(*arguments):
    return subprocess.run([sys.executable, "-m", "analysis", "verify", *arguments, "--config", TINY], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, env=ENVIRONMENT)


def test_a_reference_made_here_is_rerun_identical_and_its_ledger_holds(reference, tmp_path):
    before = sorted(path for path in reference.rglob("*"))
    done = verify("--reference", str(reference), "--cells", "2", "--out", str(tmp_path / "scratch"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "scratch/report.md").read_text()
    assert report in done.stdout
    assert "**2 of 2 identical**" in report
    assert report.count("- progress.csv: **identical**") == 2 and report.count("- eval.csv: **identical**") == 2
    assert "content checksum" in report and "as recorded" in report  # the demo set, recorded again, matched
    assert "## Claims ledger" in report and "verdicts hold**" in report
    assert (tmp_path / "scratch/runs/Pong/dqfd/scripted_noise0_ep1/seed_0/summary.json").is_file()
    assert sorted(path for path in reference.rglob("*")) == before, "verify wrote into the reference"


def test_other_demonstrations_are_refused_before_anything_trains(reference, tmp_path):
    copy = tmp_path / "reference" / "tiny"
    shutil.copytree(reference, copy)
    record = copy / "runs/Pong/dqfd/scripted_noise0_ep1/seed_0/config.yaml"
    config = yaml.safe_load(record.read_text())
    config["demos"]["content_sha256"] = "0" * 64
    record.write_text(yaml.safe_dump(config))
    done = verify("--reference", str(copy), "--cells", "Pong/dqfd/0", "--out", str(tmp_path / "scratch"))
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "are other demonstrations" in errors[0], done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "scratch/runs").exists()


def test_the_first_difference_is_named_with_its_size_and_wall_time_is_no_difference(tmp_path):
    recorded = ROOT / "reference/default/runs/Freeway/pdd_dqn/none/seed_0/progress.csv"
    table = pd.read_csv(recorded, dtype=str, keep_default_na=False)
    slower = table.assign(wall_s="999.0")
    slower.to_csv(tmp_path / "slower.csv", index=False)
    assert compare_table(recorded, tmp_path / "slower.csv", progress_label)["identical"]
    changed = table.copy()
    changed.loc[2, "loss"] = repr(float(table.loc[2, "loss"]) * (1 + 1e-6))
    changed.loc[5, "q_mean"] = "0.5"
    changed.to_csv(tmp_path / "changed.csv", index=False)
    result = compare_table(recorded, tmp_path / "changed.csv", progress_label)
    first = result["first"]
    assert not result["identical"] and result["differing_rows"] == 2
    assert (first["row"], first["column"], first["where"]) == (3, "loss", "interact losses at update 15")
    assert first["relative"] == pytest.approx(1e-6, rel=1e-3)
    assert first["absolute"] == pytest.approx(float(table.loc[2, "loss"]) * 1e-6, rel=1e-3)


def test_cells_are_the_cheapest_first_or_named():
    cells = [Cell("Pong", "dqfd", demos, 0, Path("."), wall) for demos, wall in (("a", 5.0), ("b", 7.0))]
    cells.append(Cell("Pong", "pdd_dqn", "none", 1, Path("."), 9.0))
    assert pick(cells, ["2"], Path("ref")) == cells[:2]
    assert pick(cells, ["Pong/pdd_dqn/1", "Pong/dqfd/b/0"], Path("ref")) == [cells[2], cells[1]]
    with pytest.raises(Exception, match="ambiguous: it has the demo sets a, b"):
        pick(cells, ["Pong/dqfd/0"], Path("ref"))


@pytest.mark.parametrize("arguments, fragment", [
    (["--reference", "reference/default", "--cells", "0"], "--cells 0: give how many cells to rerun, from 1 to the 45"),
    (["--reference", "config", "--cells", "2"], "config holds no complete run"),
    (["--reference", "reference/default", "--cells", "Freeway/dqn/0"], "--cells Freeway/dqn/0 is not a run of"),
    (["--reference", "reference/default", "--cells", "1", "--out", "reference/default/verify"],
     "is inside the committed reference results"),
    (["--reference", "reference/nothing", "--cells", "1"], "--reference reference/nothing is not a folder"),
], ids=["no cells", "no runs", "unknown cell", "into the reference", "no folder"])
def test_bad_inputs_are_refused_in_one_line(arguments, fragment, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(["verify", *arguments]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and fragment in errors[0], captured.err
    assert not (ROOT / "reference/default/verify").exists()


def test_snakemake_verify_runs_analysis_verify_on_the_configs_reference(tmp_path):
    for name in ("Snakefile", "rules", "config", "envs", "report"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    done = subprocess.run([sys.executable, "-m", "snakemake", "verify", "--cores", "1", "--dry-run",
                           "--printshellcmds"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=ENVIRONMENT)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert ("python -m analysis verify --reference reference/default --cells 2 --out results/default/verify"
            in done.stdout), done.stdout[-3000:]
