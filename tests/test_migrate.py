"""`python -m analysis migrate`: a results folder written under the old names (scripted_eps0p5_ep1, demos.epsilon,
priority_eps_agent/demo, a stats column epsilon, mixed_precision's false) and with its demo files named by the
machine's absolute paths comes out under today's names, its demo files named relative to the run folder, other values
untouched; a second run changes nothing; `python -m analysis publish` publishes old records as today's; no committed
record holds a machine's absolute path; `analysis verify --code recorded` hands an old commit its own names."""
import csv
import hashlib
import json
import re
from pathlib import Path

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
    """A run's settings as config.yaml recorded them before the renames: every declared setting, in order, and
    mixed_precision a bool."""
    renamed = {"priority_bonus_agent": "priority_eps_agent", "priority_bonus_demo": "priority_eps_demo"}
    old_values = {"mixed_precision": False}
    return {renamed.get(key, key): {"value": old_values.get(key, spec["value"]), "origin": spec["origin"]}
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
    expected["file"] = f"../../../../../demos/Pong/{NEW}.npz"
    assert summary["demos"] == expected, "the file named relative to the run folder, under today's name"
    assert (folder / run / expected["file"]).resolve() == (folder / f"demos/Pong/{NEW}.npz").resolve()
    assert (folder / run / "summary.json").read_text() == json_text(summary), "written as the suite writes it"
    config = yaml.safe_load((folder / run / "config.yaml").read_text())
    assert list(config["demos"]) == list(expected) and config["demos"]["noise"] == 0.5
    declared = defaults()["settings"]
    assert list(config["settings"]) == list(declared), "renamed in place, the order kept"
    assert config["settings"]["priority_bonus_demo"] == {"value": 1.0, "origin": "paper: DQfD ε_d"}
    assert config["settings"]["mixed_precision"] == {"value": "never",
                                                     "origin": declared["mixed_precision"]["origin"]}
    assert (folder / run / "config.yaml").read_text() == yaml_text(config)
    none = yaml.safe_load((folder / "runs/Pong/pdd_dqn/none/seed_0/config.yaml").read_text())
    assert "priority_bonus_agent" in none["settings"] and none["demos"] is None

    assert (folder / f"demos/Pong/{NEW}.stats.csv").read_text() == STATS.replace(",epsilon\n", ",noise\n", 1)
    for unchanged in (f"{run}/progress.csv", f"demos/Pong/{NEW}.npz", f"logs/train/Pong_dqfd_{NEW}_seed_0.log"):
        assert after[unchanged][0] == before[unchanged.replace(NEW, OLD)][0]
    assert after["tables/demo_sets.csv"] == before["tables/demo_sets.csv"], "outputs are rebuilt, not migrated"
    assert after["runs/Pong/pdd_dqn/none/seed_0/summary.json"] == before["runs/Pong/pdd_dqn/none/seed_0/summary.json"]

    described = {str(change) for change in changes}
    assert (f"runs/Pong/dqfd/{OLD}/seed_0/summary.json → {run}/summary.json (demos.epsilon → demos.noise, "
            "demos.file made relative to the run folder)") in described
    assert ("runs/Pong/pdd_dqn/none/seed_0/config.yaml (settings.priority_eps_agent → settings.priority_bonus_agent, "
            "settings.priority_eps_demo → settings.priority_bonus_demo, settings.mixed_precision false → never)"
            ) in described
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
    summary["demos"]["file"] = f"../../../../../demos/Pong/{NEW}.npz"
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


def test_a_demo_file_outside_the_workflows_layout_is_named_relative_only_where_it_is_here(tmp_path, capsys):
    """A record naming a demo file outside RESULTS/demos/GAME/: made relative where that file is here with the
    recorded checksum, kept as recorded (and said) where it is not; nothing else in the record changes."""
    folder, elsewhere = tmp_path / "results", tmp_path / "library/human/Pong.npz"
    elsewhere.parent.mkdir(parents=True)
    elsewhere.write_bytes(b"demonstrations")
    checksum = hashlib.sha256(b"demonstrations").hexdigest()
    cases = {0: (str(elsewhere), checksum), 1: ("/nowhere/library/Pong.npz", checksum), 2: (str(elsewhere), "cd" * 32)}
    for seed, (file, sha256) in cases.items():
        write(folder / f"runs/Pong/dqfd/human_ep1/seed_{seed}/summary.json",
              json_text({"game": "Pong", "seed": seed, "demos": {"file": file, "sha256": sha256}}))
    assert analysis_main(["migrate", "--results", str(folder)]) == 0
    out = capsys.readouterr().out
    records = {seed: json.loads((folder / f"runs/Pong/dqfd/human_ep1/seed_{seed}/summary.json").read_text())
               for seed in cases}
    assert records[0]["demos"] == {"file": "../../../../../../library/human/Pong.npz", "sha256": checksum}
    assert records[1]["demos"]["file"] == "/nowhere/library/Pong.npz", "not here: kept as recorded"
    assert records[2]["demos"]["file"] == str(elsewhere), "another file's checksum: kept as recorded"
    assert "1 files brought to today's names and paths" in out
    assert "2 records still name their demo file by an absolute path" in out
    assert "kept: demos.file /nowhere/library/Pong.npz is absolute" in out


# A path of some machine: a POSIX absolute path or a Windows drive, at the start of a value or after a separator.
MACHINE_PATH = re.compile(r"""(?:^|[\s,;:='"(\[])(?:/(?:root|home|tmp|work|Users|mnt|scratch|data|opt|var|srv)/|"""
                          r"""[A-Za-z]:\\)""")


def strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)
    elif isinstance(value, str):
        yield value


def test_no_committed_record_holds_an_absolute_path():
    """Every value of every record, table and note under reference/ names files relative (a run's demo file
    relative to its run folder, a table's run_dir relative to the repository), never by a machine's absolute path."""
    from agents.renames import absolute

    reference = Path(__file__).resolve().parent.parent / "reference"
    files = sorted(path for path in reference.rglob("*") if path.suffix in (".json", ".yaml", ".csv", ".md", ".tex"))
    assert len(files) > 500
    found = []
    for path in files:
        text = path.read_text()
        if path.suffix in (".json", ".yaml"):
            values = list(strings(yaml.safe_load(text)))  # JSON is YAML too
        elif path.suffix == ".csv":
            values = [cell for row in csv.reader(text.splitlines()) for cell in row]
        else:
            values = text.splitlines()
        found += [f"{path.relative_to(reference)}: {value}" for value in values
                  if absolute(value) is not None or MACHINE_PATH.search(value)]
    assert not found, f"{len(found)} absolute paths, the first: {found[:3]}"


def test_a_recorded_commit_gets_its_settings_under_the_names_and_values_of_its_day():
    """analysis verify --code recorded: a commit that declared priority_eps_agent and a bool mixed_precision gets them
    back so; its config.yaml comes back under today's names and values; a commit of today's names is left alone."""
    from agents.renames import settings_as_of, settings_as_today

    today = {"priority_bonus_agent": {"value": 0.001, "origin": "paper"},
             "mixed_precision": {"value": "never", "origin": "ours"}, "gamma": {"value": 0.99, "origin": "paper"}}
    then = {"priority_eps_agent": {"value": 0.001}, "mixed_precision": {"value": False}, "gamma": {"value": 0.99}}
    older = settings_as_of(today, then)
    assert older == {"priority_eps_agent": {"value": 0.001, "origin": "paper"},
                     "mixed_precision": {"value": False, "origin": "ours"}, "gamma": {"value": 0.99, "origin": "paper"}}
    assert settings_as_today(older) == today
    declared = defaults()["settings"]
    assert settings_as_of(today, declared) == today and settings_as_today(today) == today
