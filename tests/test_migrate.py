"""`python -m analysis migrate`: a results folder written under the old names (scripted_eps0p5_ep1, demos.epsilon,
priority_eps_agent/demo, a stats column epsilon) comes out under today's, values untouched; a second run changes
nothing; `python -m analysis publish` publishes old records under today's names."""
import json

import pytest
import yaml

from agents.declarations import defaults
from agents.io import json_text, yaml_text
from agents.renames import migrate, old_names
from analysis.__main__ import main as analysis_main
from analysis.publish import publish

OLD, NEW = "scripted_eps0p5_ep1", "scripted_noise0p5_ep1"
STATS = ("episode,score,length,ended_by,game,source,demonstrator,epsilon\n"
         "0,10.0,6745,terminal,Pong,scripted,pong_ram_tracker_v1,0.5\n")


def old_settings() -> dict:
    """A run's settings as config.yaml recorded them before the rename: every declared setting, in order."""
    renamed = {"priority_bonus_agent": "priority_eps_agent", "priority_bonus_demo": "priority_eps_demo"}
    return {renamed.get(key, key): {"value": spec["value"], "origin": spec["origin"]}
            for key, spec in defaults()["settings"].items()}


def old_demos(folder) -> dict:
    return {"file": f"{folder}/demos/Pong/{OLD}.npz", "sha256": "ab" * 32, "source": "scripted",
            "demonstrator": "pong_ram_tracker_v1", "epsilon": 0.5, "episodes": 1, "transitions": 6745,
            "score_mean": 10.0, "score_best": 10.0, "score_worst": 10.0}


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def old_results(tmp_path):
    """A results folder as the suite wrote it before the rename: a run on a noisy scripted set, a run without
    demonstrations, the set's demo file and stats, logs, a checkpoint and a table."""
    folder = tmp_path / "results/tiny"
    for method, demos in (("dqfd", OLD), ("pdd_dqn", "none")):
        run = folder / f"runs/Pong/{method}/{demos}/seed_0"
        record = old_demos(folder) if demos != "none" else None
        write(run / "summary.json", json_text({"game": "Pong", "method": method, "seed": 0, "eval_score_mean": 3.0,
                                               "status": "complete", "demos": record}))
        write(run / "config.yaml", yaml_text({"game": "Pong", "method": method, "seed": 0,
                                              "settings": old_settings(), "demos": record, "threads": 1}))
        write(run / "progress.csv", "kind,phase,update,agent_step,epsilon\nepisode,interaction,4,16,0.01\n")
        write(run / "provenance.json", json_text({"seed": 0}))
    write(folder / f"demos/Pong/{OLD}.stats.csv", STATS)
    (folder / f"demos/Pong/{OLD}.npz").write_bytes(b"PK\x03\x04 stands in for the demo file")
    write(folder / f"logs/train/Pong_dqfd_{OLD}_seed_0.log", "error: loss is NaN\n")
    write(folder / f"logs/demos/Pong_{OLD}.log", "Pong: 1 episodes\n")
    (folder / f"checkpoints/Pong/dqfd/{OLD}/seed_0").mkdir(parents=True)
    (folder / f"checkpoints/Pong/dqfd/{OLD}/seed_0/checkpoint_00000010.pt").write_bytes(b"weights")
    write(folder / "tables/demo_sets.csv", f"game,demo_set,epsilon\nPong,{OLD},0.5\n")
    return folder


def snapshot(folder):
    return {path.relative_to(folder).as_posix(): (path.read_bytes(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_old_records_come_out_under_the_new_names_with_their_values(old_results):
    folder = old_results
    before = snapshot(folder)
    assert old_names(folder)
    changes = migrate(folder)

    after = snapshot(folder)
    assert not old_names(folder)
    assert not [path for path in after if "_eps" in path and not path.startswith("tables/")]
    assert not [path for path in folder.rglob("*") if path.is_dir() and "_eps" in path.name], "old folders removed"
    run = f"runs/Pong/dqfd/{NEW}/seed_0"
    assert {f"{run}/summary.json", f"{run}/progress.csv", f"demos/Pong/{NEW}.npz", f"demos/Pong/{NEW}.stats.csv",
            f"logs/train/Pong_dqfd_{NEW}_seed_0.log", f"logs/demos/Pong_{NEW}.log",
            f"checkpoints/Pong/dqfd/{NEW}/seed_0/checkpoint_00000010.pt"} <= set(after)

    summary = json.loads((folder / run / "summary.json").read_text())
    expected = {("noise" if key == "epsilon" else key): value for key, value in old_demos(folder).items()}
    assert summary["demos"] == expected, "the recorded file path stays as recorded: a value"
    assert (folder / run / "summary.json").read_text() == json_text(summary), "written as the suite writes it"
    config = yaml.safe_load((folder / run / "config.yaml").read_text())
    assert list(config["demos"]) == list(expected) and config["demos"]["noise"] == 0.5
    declared = defaults()["settings"]
    assert list(config["settings"]) == list(declared), "renamed in place, the order kept"
    assert config["settings"]["priority_bonus_demo"] == {"value": 1.0, "origin": "paper: DQfD ε_d"}
    assert (folder / run / "config.yaml").read_text() == yaml_text(config)
    none = yaml.safe_load((folder / "runs/Pong/pdd_dqn/none/seed_0/config.yaml").read_text())
    assert "priority_bonus_agent" in none["settings"] and none["demos"] is None

    assert (folder / f"demos/Pong/{NEW}.stats.csv").read_text() == STATS.replace(",epsilon\n", ",noise\n", 1)
    for unchanged in (f"{run}/progress.csv", f"demos/Pong/{NEW}.npz", f"logs/train/Pong_dqfd_{NEW}_seed_0.log"):
        assert after[unchanged][0] == before[unchanged.replace(NEW, OLD)][0]
    assert after["tables/demo_sets.csv"] == before["tables/demo_sets.csv"], "outputs are rebuilt, not migrated"
    assert after["runs/Pong/pdd_dqn/none/seed_0/summary.json"] == before["runs/Pong/pdd_dqn/none/seed_0/summary.json"]

    described = {str(change) for change in changes}
    assert f"runs/Pong/dqfd/{OLD}/seed_0/summary.json → {run}/summary.json (demos.epsilon → demos.noise)" in described
    assert ("runs/Pong/pdd_dqn/none/seed_0/config.yaml (settings.priority_eps_agent → settings.priority_bonus_agent, "
            "settings.priority_eps_demo → settings.priority_bonus_demo)") in described
    assert f"demos/Pong/{OLD}.stats.csv → demos/Pong/{NEW}.stats.csv (column epsilon → noise)" in described


def test_a_second_run_changes_nothing(old_results, capsys):
    assert analysis_main(["migrate", "--results", str(old_results)]) == 0
    first = capsys.readouterr().out
    assert "files brought to today's names" in first and "snakemake figures" in first
    migrated = snapshot(old_results)
    assert analysis_main(["migrate", "--results", str(old_results)]) == 0
    assert "nothing to migrate" in capsys.readouterr().out
    assert snapshot(old_results) == migrated, "not a byte nor a modification time changed"


def test_a_migration_cut_short_is_finished_and_a_clash_is_left_for_the_user(old_results, capsys):
    # Killed after writing a record's new copy but before removing the old one: the next run removes the old copy.
    new_run = old_results / f"runs/Pong/dqfd/{NEW}/seed_0"
    new_run.mkdir(parents=True)
    summary = json.loads((old_results / f"runs/Pong/dqfd/{OLD}/seed_0/summary.json").read_text())
    summary["demos"] = {("noise" if key == "epsilon" else key): value for key, value in summary["demos"].items()}
    (new_run / "summary.json").write_text(json_text(summary))
    # A record under both names that differ: neither is overwritten.
    (new_run / "eval.csv").write_text("episode,score\n0,1.0\n")
    (old_results / f"runs/Pong/dqfd/{OLD}/seed_0/eval.csv").write_text("episode,score\n0,2.0\n")
    assert analysis_main(["migrate", "--results", str(old_results)]) == 1
    out = capsys.readouterr().out
    assert "already there; the old copy removed" in out and "1 files left as they were" in out
    assert (new_run / "eval.csv").read_text() == "episode,score\n0,1.0\n"
    assert (old_results / f"runs/Pong/dqfd/{OLD}/seed_0/eval.csv").read_text() == "episode,score\n0,2.0\n"
    assert not (old_results / f"runs/Pong/dqfd/{OLD}/seed_0/summary.json").exists()


def test_publishing_old_records_writes_them_under_the_new_names(old_results, tmp_path):
    reference = tmp_path / "reference/tiny"
    published, changes = publish(old_results, reference)
    assert f"runs/Pong/dqfd/{NEW}/seed_0/summary.json" in {path.as_posix() for path in published}
    assert not changes and not old_names(reference)
    summary = json.loads((reference / f"runs/Pong/dqfd/{NEW}/seed_0/summary.json").read_text())
    assert summary["demos"]["noise"] == 0.5 and "epsilon" not in summary["demos"]
    assert "noise" in (reference / f"demos/Pong/{NEW}.stats.csv").read_text().splitlines()[0].split(",")
    assert not (reference / "checkpoints").exists() and not list(reference.rglob("*.npz"))
    assert migrate(reference) == []


def test_a_folder_that_does_not_exist_is_refused(tmp_path, capsys):
    assert analysis_main(["migrate", "--results", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
