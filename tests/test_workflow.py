"""The tiny config end to end through Snakemake, in a temporary clone of the repository: committed files included,
as a new user gets them, so committed outputs that would satisfy the workflow's targets cannot hide missing runs."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from agents.cell import resolve
from agents.matrix import demo_sets

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.workflow
# The tiny config's demo sets by name, each with its values (source, noise, episodes); the first is the reference.
TINY_SETS = demo_sets(yaml.safe_load((ROOT / "config/tiny.yaml").read_text()))
REFERENCE = next(iter(TINY_SETS))


def snakemake(workdir, *args, expect_success=True):
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--configfile", "config/tiny.yaml", *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=900)
    assert (result.returncode == 0) == expect_success, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def planned_jobs(output):
    """Rule → number of jobs, from the job table a dry run prints."""
    table = output.split("Job stats:")[1] if "Job stats:" in output else ""
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)
            if rule != "total"}


def git(*args, cwd=ROOT):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def copy_workflow(workdir):
    """A `git clone` of this repository with the working tree's uncommitted changes laid over it (edited, added and
    deleted files that git does not ignore), so a change is tested before it is committed, and ignored outputs of
    this checkout (results/, .snakemake/) never reach the copy."""
    if not (ROOT / ".git").exists():
        pytest.skip("the workflow tests clone the repository; this is not a git checkout")
    git("clone", "--quiet", str(ROOT), str(workdir))
    for path in git("ls-files", "--modified", "--others", "--exclude-standard", "-z").split("\0"):
        if not path:
            continue
        source, target = ROOT / path, workdir / path
        if source.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            target.unlink(missing_ok=True)
    for path in git("ls-files", "--deleted", "-z").split("\0"):
        if path:
            (workdir / path).unlink(missing_ok=True)
    return workdir


def changed_files(workdir):
    """What `git status` reports in the clone: the uncommitted changes laid over it, plus whatever a run wrote."""
    return git("status", "--porcelain", "--untracked-files=all", cwd=workdir)


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("workflow") / "clone")
    before = changed_files(workdir)
    snakemake(workdir)
    assert changed_files(workdir) == before, "the tiny config wrote into files that git tracks or does not ignore"
    return workdir


def test_a_fresh_clone_plans_every_cell_of_the_default_matrix(tmp_path):
    """Nothing committed stands in for a run: the default config's dry run trains every cell."""
    workdir = copy_workflow(tmp_path / "clone")
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--dry-run"], cwd=workdir,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    sets = len(demo_sets(config))
    uses_demos = {method: resolve(config["games"][0], method, 0, config)["settings"]["use_demos"]["value"]
                  for method in config["methods"]}
    cells = len(config["games"]) * len(config["seeds"]) * sum(
        sets if uses_demos[method] else 1 for method in config["methods"])
    assert planned_jobs(output)["train"] == cells, output[-3000:]


def test_every_expected_output_exists_and_is_well_formed(workflow):
    config = yaml.safe_load((workflow / "config/tiny.yaml").read_text())
    results = workflow / config["results_dir"]
    sets = TINY_SETS  # two demo qualities
    cells = [(game, method, demos, seed) for game in config["games"] for method in config["methods"]
             for demos in (sets if method != "pdd_dqn" else ["none"]) for seed in config["seeds"]]
    for game in config["games"]:
        for demos in sets:
            assert (results / f"demos/{game}/{demos}.npz").stat().st_size > 0
            stats = pd.read_csv(results / f"demos/{game}/{demos}.stats.csv")
            assert len(stats) == 1 and stats["noise"].tolist() == [sets[demos]["noise"]]
    for game, method, demos, seed in cells:
        run = results / f"runs/{game}/{method}/{demos}/seed_{seed}"
        summary = json.loads((run / "summary.json").read_text())
        assert summary["status"] == "complete" and summary["eval_episodes"] == 1
        resolved = yaml.safe_load((run / "config.yaml").read_text())
        assert resolved["settings"]["target_update_period"]["origin"].startswith("tiny config")
        assert resolved["protocol"]["max_episode_frames"]["value"] == 1000
        provenance = json.loads((run / "provenance.json").read_text())
        assert provenance["seed"] == seed and "torch" in provenance["packages"]
        progress = pd.read_csv(run / "progress.csv")
        assert {"kind", "phase", "update", "agent_step"} <= set(progress.columns)
        if method == "bc":
            assert summary["agent_steps"] == 0 and (progress["phase"] == "pretrain").all()
        else:
            assert (progress["kind"] == "episode").any()
        if demos != "none":  # the run records the demonstrations it learned from
            assert summary["demos"]["noise"] == sets[demos]["noise"]
    runs = pd.read_csv(results / "tables/runs.csv")  # the main comparison: the reference demo set
    assert len(runs) == len(config["games"]) * len(config["methods"]) * len(config["seeds"])
    assert set(runs["demo_set"]) == {REFERENCE, "none"}
    sweep = pd.read_csv(results / "tables/demo_sweep.csv")
    assert len(sweep) == len(config["games"]) * 2 * len(sets)  # dqfd and bc on each set
    assert set(sweep["noise"]) == {values["noise"] for values in sets.values()} == {0.0, 0.5}
    assert sweep["demo_mean"].notna().all()
    assert (results / "figures/demo_sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = pd.read_csv(results / "tables/scores.csv")
    assert set(scores["method"]) == set(config["methods"])
    assert scores["demonstrator_mean"].notna().all()
    assert "| game | method |" in (results / "tables/scores.md").read_text()
    for figure in ("learning_curves", "aggregates", "performance_profiles", "improvement"):
        assert (results / f"figures/{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        for other in (f"{figure}.pdf", f"{figure}_column.pdf", f"{figure}_column.png"):  # both print widths
            assert (results / "figures" / other).stat().st_size > 0, other
    for table in ("scores.tex", "aggregates.md", "claims.md", "claims_per_game.csv", "run_scores.csv"):
        assert (results / "tables" / table).stat().st_size > 0
    assert f"All {len(cells)} cells of the matrix have a complete run" in (results / "tables/missing_runs.md").read_text()


def test_the_report_holds_every_figure_and_table_with_a_caption(workflow):
    snakemake(workflow, "--report", "report.html")
    page = (workflow / "report.html").read_text()
    for name in ("learning_curves.png", "aggregates.png", "performance_profiles.png", "improvement.png", "demo_sweep.png",
                 "scores.csv", "claims.csv", "claims_per_game.csv", "aggregates.csv", "run_scores.csv"):
        assert name in page, name
    assert "Probability of improvement" in page and "The claims ledger" in page


def test_figures_rebuild_from_stored_runs_without_training_and_list_missing_runs(workflow, tmp_path):
    results = workflow / "results/tiny"
    summary = results / f"runs/Pong/bc/{REFERENCE}/seed_0/summary.json"
    summary.rename(tmp_path / "summary.json")
    try:
        output = snakemake(workflow, "--cores", "2", "figures")  # a target after --configfile would read as a file
        jobs = planned_jobs(output)
        assert jobs.get("collect") == 1 and not {"train", "demos", "random_play"} & set(jobs), output
        assert f"| Pong | bc | {REFERENCE} | 0 |" in (results / "tables/missing_runs.md").read_text()
        assert not (pd.read_csv(results / "tables/runs.csv")["method"].eq("bc")
                    & pd.read_csv(results / "tables/runs.csv")["game"].eq("Pong")).any()
        assert "1 cells of the matrix have no complete run" in (results / "tables/scores.md").read_text()
    finally:
        (tmp_path / "summary.json").rename(summary)
    snakemake(workflow, "--cores", "2", "figures")
    assert "All 10 cells" in (results / "tables/missing_runs.md").read_text()


def test_reference_results_rebuild_from_their_records_alone(workflow):
    """A config's reference: its run records, tables and figures copied into reference/<config> (no weights), and
    every table rebuilt from those records by `snakemake figures` as docs/reference_results.md says."""
    subprocess.run([sys.executable, "-m", "analysis", "publish", "--results", "results/tiny", "--reference",
                    "reference/tiny"], cwd=workflow, check=True, capture_output=True)
    reference = workflow / "reference/tiny"
    published = sorted(path.relative_to(reference).as_posix() for path in reference.rglob("*") if path.is_file())
    assert not [path for path in published if path.endswith((".pt", ".npz"))]
    assert f"runs/Pong/dqfd/{REFERENCE}/seed_0/provenance.json" in published
    assert f"demos/Pong/{REFERENCE}.stats.csv" in published and "tables/claims.md" in published
    ignored = subprocess.run(["git", "check-ignore", *published], cwd=workflow, capture_output=True, text=True)
    assert ignored.returncode == 1, f"git ignores published files: {ignored.stdout}"
    for table in ("runs.csv", "run_scores.csv", "claims.csv", "scores.md"):
        (reference / "tables" / table).unlink()
    output = snakemake(workflow, "--cores", "2", "figures", "--forceall", "--config", "results_dir=reference/tiny")
    assert not {"train", "demos", "random_play"} & set(planned_jobs(output)), output
    for table in ("run_scores.csv", "claims.csv", "scores.md"):
        assert (reference / "tables" / table).read_text() == (workflow / "results/tiny/tables" / table).read_text()
    runs = pd.read_csv(reference / "tables/runs.csv")
    assert runs["run_dir"].str.startswith("reference/tiny/runs/").all()


def test_a_second_run_has_nothing_to_do(workflow):
    assert "Nothing to be done" in snakemake(workflow, "--dry-run")


def test_a_results_folder_copied_without_snakemake_records_plans_exactly_the_new_cells(workflow, tmp_path):
    """Snakemake's own records (.snakemake/) stay behind when a results folder is copied to another clone or machine:
    a seed added there still trains exactly its cells, and the missing-runs table never claims a cell that has no
    summary.json."""
    copy = tmp_path / "copy"
    shutil.copytree(workflow, copy, ignore=shutil.ignore_patterns(".snakemake"))
    assert "Nothing to be done" in snakemake(copy, "--dry-run")
    overlay = tmp_path / "seeds.yaml"
    overlay.write_text(yaml.safe_dump({"seeds": [0, 1]}))
    config = yaml.safe_load((copy / "config/tiny.yaml").read_text())
    new = {(game, method, demos, "1") for game in config["games"] for method in config["methods"]
           for demos in (["none"] if method == "pdd_dqn" else TINY_SETS)}
    output = snakemake(copy, "--configfile", "config/tiny.yaml", str(overlay), "--dry-run")
    planned = set(re.findall(r"wildcards: game=(\w+), method=(\w+), demos=(\w+), seed=(\d+)", output))
    assert planned == new and planned_jobs(output)["train"] == len(new), output[-3000:]
    snakemake(copy, "--cores", "2", "figures", "--configfile", "config/tiny.yaml", str(overlay))
    missing = pd.read_csv(copy / "results/tiny/tables/missing_runs.csv", dtype=str)
    assert set(zip(missing["game"], missing["method"], missing["demos"], missing["seed"])) == new
    assert f"{len(new)} of {2 * len(new)} cells have no complete run" in (
        copy / "results/tiny/tables/missing_runs.md").read_text()


def test_adding_a_method_plans_only_its_cells(workflow):
    config_path = workflow / "config/tiny.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["methods"].append("dqfd_no_margin")
    config["method_definitions"] = {
        "dqfd_no_margin": {"algorithm": "dqfd", "description": "DQfD without the supervised loss",
                           "settings": {"lambda_supervised": 0.0}}
    }
    config_path.write_text(yaml.safe_dump(config))
    output = snakemake(workflow, "--dry-run")
    jobs = planned_jobs(output)
    assert jobs.get("train") == len(config["games"]) * len(config["seeds"]) * 2, output  # on both demo sets
    assert "demos" not in jobs
    planned_methods = set(re.findall(r"method=(\w+)", output))
    assert planned_methods == {"dqfd_no_margin"}, output


def test_a_bad_config_stops_before_any_job(workflow, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"settings": {"margin": -1.0}}))
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml", str(bad),
               "--dry-run"]
    result = subprocess.run(command, cwd=workflow, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "margin=-1.0 in config settings must be >= 0" in result.stdout + result.stderr


def test_keep_going_finishes_the_rest_and_reports_the_failed_cells(workflow, tmp_path):
    overlay = tmp_path / "unstable.yaml"
    overlay.write_text(yaml.safe_dump({
        "methods": ["pdd_dqn_unstable", "pdd_dqn_short"],
        "method_definitions": {
            "pdd_dqn_unstable": {"algorithm": "dqfd", "description": "diverges at once",
                                 "settings": {"use_demos": False, "pretrain_updates": 0, "lambda_supervised": 0.0,
                                              "learning_rate": 1.0e30, "learning_starts": 50}},
            "pdd_dqn_short": {"algorithm": "dqfd", "description": "a short stable run",
                              "settings": {"use_demos": False, "pretrain_updates": 0, "lambda_supervised": 0.0,
                                           "agent_steps": 200, "learning_starts": 50}},
        },
    }))
    output = snakemake(workflow, "--configfile", "config/tiny.yaml", str(overlay), "--keep-going",
                       expect_success=False)
    results = workflow / "results/tiny"
    for game in ("Pong", "Breakout"):
        assert (results / f"runs/{game}/pdd_dqn_short/none/seed_0/summary.json").is_file(), output
        assert not (results / f"runs/{game}/pdd_dqn_unstable/none/seed_0/summary.json").exists()
    failed = pd.read_csv(results / "tables/failed_cells.csv")
    assert sorted(zip(failed["game"], failed["method"])) == [("Breakout", "pdd_dqn_unstable"),
                                                             ("Pong", "pdd_dqn_unstable")]
    assert failed["reason"].str.contains("non-finite loss").all() and (failed["status"] == "failed").all()
    assert "training cells without a complete run: 2 failed, 0 stopped, 0 not run" in output
    report = (results / "tables/failed_cells.md").read_text()
    assert "2 of 4 cells have no complete run" in report


def test_the_workflow_lints_clean(workflow):
    assert "Congratulations, your workflow is in a good condition" in snakemake(workflow, "--lint")


@pytest.mark.parametrize("profile, extra", [("slurm", []), ("kubernetes", ["--default-storage-prefix", "STORAGE"])])
def test_cluster_profiles_plan_the_paper_matrix_with_derived_resources(profile, extra, tmp_path):
    pytest.importorskip(f"snakemake_executor_plugin_{profile}")
    workdir = copy_workflow(tmp_path / "workflow")
    extra = [str(tmp_path / "storage") if arg == "STORAGE" else arg for arg in extra]
    command = [sys.executable, "-m", "snakemake", "--profile", f"profiles/{profile}", "--configfile",
               "config/paper.yaml", "--dry-run", "--printshellcmds", *extra]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    paper = yaml.safe_load((workdir / "config/paper.yaml").read_text())
    assert planned_jobs(output)["train"] == len(paper["games"]) * len(paper["methods"]) * len(paper["seeds"])
    gpus = [int(value) for value in re.findall(r"resources: .*\bgpu=(\d+)", output)]  # only training asks for GPUs
    assert gpus and len(gpus) == planned_jobs(output)["train"] and set(gpus) == {1}
    # 750,000 pretraining updates at the declared 100 updates/s, with the 1.5 margin: over 3 hours
    runtimes = [int(value) for value in re.findall(r"runtime=(\d+)", output)]
    assert max(runtimes) > 180
    if profile == "kubernetes":
        assert "--checkpoint-dir /workflow/dqfd-suite/checkpoints/" in output


def test_the_conda_environment_lists_the_package_dependencies():
    """The package's dependencies and the tensorboard extra: a job under `tensorboard: true` writes event files in
    that environment, and would otherwise stop at its start."""
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + project["optional-dependencies"]["tensorboard"]
    environment = yaml.safe_load((ROOT / "envs/suite.yaml").read_text())
    pip = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    assert sorted(pip) == sorted(declared)


def test_a_file_source_is_cut_into_demo_sets_and_must_exist(tmp_path, pong_demo_file):
    """A demo set from a person's or an imported file: planned from demos/<source>/<game>.npz, refused before any
    job when that file is missing."""
    workdir = copy_workflow(tmp_path / "workflow")
    overlay = tmp_path / "human.yaml"
    overlay.write_text(yaml.safe_dump({"games": ["Pong"], "methods": ["bc"],
                                       "demos": {"sets": [{"source": "human", "episodes": [1, 2]}]}}))
    arguments = ["--configfile", "config/tiny.yaml", str(overlay), "--dry-run", "--printshellcmds"]
    command = [sys.executable, "-m", "snakemake", "--cores", "1", *arguments]
    refused = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert "demo set human_ep1 needs demos/human/Pong.npz; record it with `python -m agents record" in (
        refused.stdout + refused.stderr)
    (workdir / "demos/human").mkdir(parents=True)
    shutil.copy(pong_demo_file, workdir / "demos/human/Pong.npz")
    planned = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    output = planned.stdout + planned.stderr
    assert planned.returncode == 0, output[-3000:]
    assert planned_jobs(output)["demos"] == 2 and planned_jobs(output)["train"] == 2
    assert "--episodes 2 --seed 0 --noise 0.0 --from demos/human/Pong.npz" in output


def test_records_under_the_old_names_are_migrated_before_the_workflow_plans(tmp_path):
    """A results folder written before set names said `noise` (scripted_eps0_ep1) would have its cells trained again
    beside it: planning refuses with the command that migrates it, and plans once it has run."""
    workdir = copy_workflow(tmp_path / "clone")
    old = workdir / "results/tiny/runs/Pong/bc/scripted_eps0_ep1/seed_0"
    old.mkdir(parents=True)
    (old / "progress.csv").write_text("kind,phase,update,agent_step\n")
    command = [sys.executable, "-m", "snakemake", "--cores", "1", "--configfile", "config/tiny.yaml", "--dry-run"]
    refused = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0
    assert "python -m analysis migrate --results results/tiny" in refused.stdout + refused.stderr
    subprocess.run([sys.executable, "-m", "analysis", "migrate", "--results", "results/tiny"], cwd=workdir, check=True,
                   capture_output=True)
    assert (workdir / f"results/tiny/runs/Pong/bc/{REFERENCE}/seed_0/progress.csv").is_file() and not old.exists()
    planned = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert planned.returncode == 0, (planned.stdout + planned.stderr)[-3000:]


def test_a_matrix_without_demonstrations_in_a_folder_with_a_space_runs_end_to_end(tmp_path):
    """Every path in the rules' commands is quoted; with no demonstrator baseline the analysis draws what it can and
    says what it cannot normalise, instead of failing. With `tensorboard: true` (where the extra is installed, as in
    CI) every run also writes its TensorBoard scalars under <results_dir>/tensorboard/<run tag>."""
    from importlib.util import find_spec

    workdir = copy_workflow(tmp_path / "clone")
    board = find_spec("tensorboard") is not None
    (workdir / "plain.yaml").write_text(yaml.safe_dump({"results_dir": "results/no demos", "methods": ["pdd_dqn"],
                                                        **({"tensorboard": True} if board else {})}))
    snakemake(workdir, "--configfile", "config/tiny.yaml", "plain.yaml")
    results = workdir / "results/no demos"
    for game in ("Pong", "Breakout"):
        assert (results / f"runs/{game}/pdd_dqn/none/seed_0/summary.json").is_file()
        if board:
            assert list((results / f"tensorboard/{game}/pdd_dqn/none/seed_0").glob("events.out.tfevents.*"))
    for figure in ("learning_curves", "aggregates", "performance_profiles", "improvement"):
        assert (results / f"figures/{figure}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Not here: pdd_dqn, whose runs have no demonstrator baseline" in (results / "tables/aggregates.md").read_text()
    assert "| Pong | pdd_dqn | 1 |" in (results / "tables/scores.md").read_text()
    assert not (workdir / "results/no").exists(), "a path split at its space"
