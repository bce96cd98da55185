"""`python -m analysis verify`: rerun a sample of a reference's cells on this machine and compare them with the records.

Each cell is trained again into a scratch folder (never into reference/) from the exact settings its committed
`config.yaml` records, with their origins: they are laid over everything else as the method's own settings, so the
package's defaults and method definitions of today change nothing the record states (settings it predates take
today's defaults, and the report names them). Demonstrations are not committed: a cell that uses them gets its demo set
recorded again as the workflow records it (rules/demos.smk, the seed of the workflow config that made the reference),
and its content must match the record (its content checksum, or where the record predates those its episodes,
transitions and scores) before anything trains. The code is this checkout's, or with `--code recorded` the commit
the run records, extracted from git, which tells a difference the code made from one the machine made.

Each rerun is compared with its record: progress.csv (but for its wall-time column) and eval.csv, value by value as
written, identical or the first differing row and column with the size of the difference; and the records of the two
machines (CPU, the instructions the kernels dispatched to, numerics, threads, code, packages). Then the claims ledger is
built twice from the reference's runs, as committed and with the fresh runs in place of the committed ones, and the
report says which verdicts hold.
"""
from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from agents.board import ENVIRONMENT as TENSORBOARD_ENVIRONMENT
from agents.cell import resolve, values
from agents.config_file import WORKFLOW_CONFIG, overlay, read_config_file
from agents.errors import ConfigError
from agents.io import check_folder, write_text
from agents.matrix import NO_DEMOS, SCRIPTED, demo_sets
from agents.renames import settings_as_of, settings_as_today

ROOT = Path(__file__).resolve().parents[1]  # the checkout this analysis package belongs to
WALL_TIME = "wall_s"  # progress.csv's one column that no two runs share


@dataclass(frozen=True)
class Cell:
    game: str
    method: str
    demos: str
    seed: int
    folder: Path  # the reference's run folder
    wall_s: float  # as its summary.json records it

    def name(self) -> str:
        return f"{self.game}/{self.method}/{self.demos}/{self.seed}"

    def path(self) -> str:
        return f"runs/{self.game}/{self.method}/{self.demos}/seed_{self.seed}"


def reference_cells(reference: Path) -> list[Cell]:
    """The reference's complete runs, cheapest first by their recorded wall time."""
    cells = []
    for summary in reference.glob("runs/*/*/*/seed_*/summary.json"):  # written last: the run is complete
        folder = summary.parent
        game, method, demos = folder.parts[-4:-1]
        cells.append(Cell(game, method, demos, int(folder.name.removeprefix("seed_")), folder,
                          float(json.loads(summary.read_text()).get("wall_s", math.inf))))
    if not cells:
        raise ConfigError(f"{reference} holds no complete run (runs/<game>/<method>/<demo set>/seed_<n>/summary.json); "
                          "point --reference at a reference folder such as reference/default")
    return sorted(cells, key=lambda cell: (cell.wall_s, cell.name()))


def pick(cells: list[Cell], wanted: list[str], reference: Path) -> list[Cell]:
    """`--cells N`: the N cheapest; `--cells GAME/METHOD/SEED ...` (or GAME/METHOD/DEMO_SET/SEED): those cells."""
    if len(wanted) == 1 and re.fullmatch(r"[+-]?\d+", wanted[0]):
        count = int(wanted[0])
        if not 1 <= count <= len(cells):
            raise ConfigError(f"--cells {count}: give how many cells to rerun, from 1 to the {len(cells)} runs "
                              f"{reference} holds, or name them as GAME/METHOD/SEED")
        return cells[:count]
    chosen = []
    for name in wanted:
        parts = name.split("/")
        matches = [cell for cell in cells if len(parts) in (3, 4) and (cell.game, cell.method) == tuple(parts[:2])
                   and str(cell.seed) == parts[-1] and (len(parts) == 3 or cell.demos == parts[2])]
        if len(matches) != 1:
            some = ", ".join(f"{cell.game}/{cell.method}/{cell.seed}" for cell in cells[:3])
            problem = (f"is ambiguous: it has the demo sets {', '.join(cell.demos for cell in matches)}; name one as "
                       "GAME/METHOD/DEMO_SET/SEED" if matches else
                       f"is not a run of {reference} (its runs are named like {some}); give a count, or "
                       "GAME/METHOD/SEED")
            raise ConfigError(f"--cells {name} {problem}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def workflow_config(reference: Path, given: str | None) -> dict:
    """The workflow config that made the reference: `given`, or the config/ file whose results_dir has the
    reference's name (reference/default: config/config.yaml), laid over config/config.yaml as the workflow lays it."""
    base = read_config_file(ROOT / WORKFLOW_CONFIG)
    if given:
        return overlay(base, read_config_file(Path(given)))
    for path in sorted((ROOT / "config").glob("*.yaml")):
        config = overlay(base, read_config_file(path)) if path.name != Path(WORKFLOW_CONFIG).name else base
        if Path(str(config.get("results_dir", ""))).name == reference.resolve().name:
            return config
    raise ConfigError(f"no config/*.yaml has results_dir results/{reference.resolve().name}, the config that made "
                      f"{reference}; name it with --config FILE")


def train_config(record: dict) -> dict:
    """The config a rerun resolves to the recorded cell: the recorded protocol and settings, with their origins,
    given as the method's own settings (the last layer), under the recorded algorithm."""
    method = record["method"]
    return {"protocol": record["protocol_name"], "protocol_overrides": record["protocol"],
            "method_definitions": {method: {"algorithm": record["algorithm"],
                                            "description": record.get("description", "")}},
            "method_settings": {method: record["settings"]}}


class Code:
    """The agents package a rerun trains with: this checkout's, or the recorded commit's extracted from git."""

    def __init__(self, which: str, scratch: Path):
        self.which, self.scratch, self.trees = which, scratch, {}

    def tree(self, commit: str) -> Path:
        """The folder whose agents/ a run recorded at `commit` is rerun with."""
        if self.which == "checkout":
            return ROOT
        if commit not in self.trees:
            if not re.fullmatch(r"[0-9a-f]{40}", commit) or git("cat-file", "-e", f"{commit}^{{commit}}") is None:
                raise ConfigError(f"--code recorded: the run records commit {commit!r}, which this clone does not "
                                  "have; fetch it, or verify with --code checkout")
            tree = self.scratch / "code" / commit[:12]
            if not (tree / "agents" / "__main__.py").is_file():
                archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=zip", commit, "agents"],
                                         capture_output=True, check=True).stdout
                zipfile.ZipFile(io.BytesIO(archive)).extractall(tree)
            self.trees[commit] = tree
        return self.trees[commit]

    def command(self, commit: str, *arguments: str, log: Path) -> None:
        """`python -m agents ARGUMENTS` with that code, its output in `log`; a failure is its error line."""
        tree = self.tree(commit)
        # A rerun writes no TensorBoard scalars: under the workflow's tensorboard: true they would go to the cell's
        # tag in <results>/tensorboard, and a run that starts over there removes the matrix run's event files.
        environment = {**{key: value for key, value in os.environ.items() if key != TENSORBOARD_ENVIRONMENT},
                       "PYTHONPATH": os.pathsep.join([str(tree), *filter(None, [os.environ.get("PYTHONPATH")])])}
        if self.which == "recorded":  # git must not find this checkout above the extracted code and record its commit
            environment["GIT_CEILING_DIRECTORIES"] = str(tree.parent)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as output:
            done = subprocess.run([sys.executable, "-m", "agents", *arguments], cwd=tree, env=environment,
                                  stdout=output, stderr=subprocess.STDOUT)
        if done.returncode != 0:
            lines = [line for line in log.read_text().splitlines() if line.strip()]
            error = next((line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else "")
            raise ConfigError(f"python -m agents {arguments[0]} failed ({error.removeprefix('error: ')}); see {log}")

    def describe(self, commit: str) -> str:
        return "this checkout" if self.which == "checkout" else f"the recorded commit {commit[:12]}, extracted"


def git(*arguments: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *arguments], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ------------------------------------------------------------------------------------------------ demonstrations
def demo_file(cell: Cell, record: dict, config: dict, scratch: Path, code: Code, commit: str) -> tuple[Path, str]:
    """The cell's demo set recorded again as the workflow records it, checked against what the run records of its
    demonstrations; returns the file and how it was checked. Refused when the content differs."""
    from agents.demos.files import content_sha256, load

    used, protocol = record["demos"], values(record["protocol"])
    path = scratch / "demos" / cell.game / f"{cell.demos}.npz"
    stats = path.with_suffix(".stats.csv")
    if not path.is_file():
        source, episodes = used.get("source", SCRIPTED), str(used["episodes"])
        origin = (["--seed", str(config["demos"]["seed"]), "--noise", str(used.get("noise", 0.0))] if source == SCRIPTED
                  else ["--from", str(ROOT / config["demos"]["library"] / source / f"{cell.game}.npz")])
        protocol_config = json.dumps({"protocol": record["protocol_name"], "protocol_overrides": record["protocol"]})
        code.command(commit, "demos", "--game", cell.game, "--episodes", episodes, *origin, "--out", str(path),
                     "--stats", str(stats), "--config-json", protocol_config,
                     log=scratch / "logs" / f"demos_{cell.game}_{cell.demos}.log")
    demos = load(path, cell.game, protocol)
    if used.get("content_sha256"):
        found = content_sha256(demos)
        if found != used["content_sha256"]:
            raise ConfigError(f"the demo set {cell.demos} of {cell.game} recorded again here has content checksum "
                              f"{found[:12]}, and {cell.name()} records {used['content_sha256'][:12]}: these are other "
                              "demonstrations, so the rerun would not be the recorded run")
        return path, f"content checksum {found[:12]} as recorded"
    # Records written before content checksums: what they say of the demonstrations, episode by episode where the
    # reference keeps the set's per-episode table.
    scores = demos.episodes["score"]
    found = {"demonstrator": demos.metadata["demonstrator"], "episodes": len(scores),
             "transitions": demos.num_transitions, "score_mean": float(scores.mean()),
             "score_best": float(scores.max()), "score_worst": float(scores.min())}
    differences = [f"{key} {used[key]!r} recorded, {value!r} here" for key, value in found.items()
                   if key in used and used[key] != value]
    committed = cell.folder.parents[3] / "demos" / cell.game / f"{cell.demos}.stats.csv"
    checked = "its demonstrator, episodes, transitions and scores"
    if committed.is_file():
        table = pd.read_csv(committed)[["score", "length"]].reset_index(drop=True)
        if not table.equals(demos.episodes[["score", "length"]].reset_index(drop=True).astype(table.dtypes)):
            differences.append(f"the per-episode scores and lengths differ from {committed}")
        checked += f", and each episode's score and length ({committed.name})"
    if differences:
        raise ConfigError(f"the demo set {cell.demos} of {cell.game} recorded again here is not the one "
                          f"{cell.name()} used: {'; '.join(differences)}")
    return path, f"no content checksum recorded (a record before them); matched by {checked}"


# ---------------------------------------------------------------------------------------------------- comparing
def compare_table(recorded: Path, rerun: Path, label) -> dict:
    """Two tables value by value as written (the wall-time column aside): identical, or the first difference."""
    a, b = (pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=[WALL_TIME], errors="ignore")
            for path in (recorded, rerun))
    result = {"rows": len(a), "rerun_rows": len(b)}
    if list(a.columns) != list(b.columns):
        return {**result, "identical": False, "note": f"other columns ({', '.join(b.columns)} against "
                                                      f"{', '.join(a.columns)})"}
    shared = min(len(a), len(b))
    differs = (a.iloc[:shared].to_numpy() != b.iloc[:shared].to_numpy())
    rows = differs.any(axis=1)
    result.update(identical=not rows.any() and len(a) == len(b), differing_rows=int(rows.sum()))
    if rows.any():
        row = int(rows.argmax())
        column = a.columns[int(differs[row].argmax())]
        first = {"row": row + 1, "where": label(a.iloc[row]), "column": column,
                 "recorded": a.iloc[row][column], "rerun": b.iloc[row][column]}
        try:
            x, y = float(first["recorded"]), float(first["rerun"])
            first.update(absolute=abs(y - x), relative=abs(y - x) / abs(x) if x else math.inf)
        except ValueError:
            pass
        result["first"] = first
    return result


def progress_label(row: pd.Series) -> str:
    if row.get("kind") == "episode":
        return f"episode {row.get('episode')} ending at agent step {row.get('agent_step')}"
    return f"{row.get('phase')} losses at update {row.get('update')}"


def eval_label(row: pd.Series) -> str:
    return f"evaluation episode {row.get('episode')}"


def machine(provenance: dict, config: dict) -> dict:
    """What a run's records say of the machine and code that made it; None where they do not say."""
    cpu, numerics, code = provenance.get("cpu") or {}, provenance.get("numerics") or {}, provenance.get("git") or {}
    threads = (provenance.get("threads") or {}).get("torch", provenance.get("torch_threads"))
    settings = values(config.get("settings") or {})
    caps = {name: value for name, value in (cpu.get("caps") or {}).items() if value != "not set"}
    return {
        "CPU": cpu.get("model"),
        "vector instructions": " ".join(cpu["vector_isa"]) if "vector_isa" in cpu else None,
        "torch dispatch": cpu.get("torch_dispatch"),
        "kernel caps": " ".join(f"{name}={value}" for name, value in caps.items()) or "none" if "caps" in cpu else None,
        "oneDNN": numerics.get("onednn_isa"),
        "MKL branch": numerics.get("mkl_branch"),
        "numpy dispatch": " ".join(numerics["numpy_dispatch"]) if "numpy_dispatch" in numerics else None,
        "numerics": settings.get("numerics", "native"),  # a record before the setting: native, its only numerics
        "threads": threads,
        "loss": provenance.get("loss"),
        "convolutions": provenance.get("convolutions"),
        "commit": f"{code['commit']}{' with uncommitted changes' * bool(code.get('dirty'))}" if code else None,
        **{f"package {name}": version for name, version in (provenance.get("packages") or {}).items()},
    }


def this_machine() -> str:
    """This machine as the reruns find it (their own records say it too, unless the recorded code predates that)."""
    import torch

    from agents.numerics import PINS, check, cpuinfo

    model, flags = cpuinfo()
    seen = check("native", 1, torch.device("cpu"))
    caps = " ".join(f"{name}={os.environ[name]}" for name in PINS if name in os.environ) or "none"
    wide = [flag for flag in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if flag in flags]
    return (f"{model or 'a CPU'} ({' '.join(wide) or 'no AVX2'}); torch dispatches to {seen['torch_dispatch']}, oneDNN "
            f"to {seen['onednn_isa']}, MKL's branch {seen['mkl_branch']}, numpy to "
            f"{' '.join(seen['numpy_dispatch']) or 'its baseline'}; kernel caps: {caps}")


def code_drift(recorded: str, code: Code) -> str:
    """How the code a rerun trained with relates to the recorded commit."""
    if code.which == "recorded":
        return f"rerun with {code.describe(recorded)}"
    head = git("rev-parse", "HEAD")
    if head is None:
        return "this checkout is not a git clone: the code cannot be compared with the recorded commit"
    dirty = " (agents/ with uncommitted changes)" if git("status", "--porcelain", "--", "agents") else ""
    if head == recorded:
        return f"the recorded commit {recorded[:12]}{dirty}"
    changed = git("log", "--format=%h", f"{recorded}..{head}", "--", "agents")
    if changed is None:
        return f"this checkout {head[:12]}{dirty}; the recorded commit {recorded[:12]} is not in this clone"
    count = len(changed.split())
    return (f"this checkout {head[:12]}{dirty}: agents/ changed in {count} commits since the recorded "
            f"{recorded[:12]} (`git log {recorded[:8]}..{head[:8]} -- agents`); `--code recorded` reruns that commit"
            if count else f"this checkout {head[:12]}{dirty}: agents/ unchanged since the recorded {recorded[:12]}")


# ------------------------------------------------------------------------------------------------------- ledger
def ledger(reference: Path, config: dict, cells: list[Cell], scratch: Path) -> pd.DataFrame:
    """Each claim's verdict on the reference's runs as committed and with the reruns in place of their records."""
    from .claims import Ledger
    from .collect import collect, read_tables
    from .scores import score_runs
    from .tables import published_scores

    every = [(cell.game, cell.method, cell.demos, cell.seed) for cell in reference_cells(reference)]
    swapped = [(cell.game, cell.method, cell.demos, cell.seed) for cell in cells]
    stats = sorted(str(path) for path in reference.glob("demos/*/*.stats.csv"))
    main_set = next(iter(demo_sets(config)))
    random = read_tables(sorted(str(path) for path in reference.glob("baselines/*.random.csv")),
                         ["game", "episode", "score", "length"])
    published = ROOT / config["published_scores"]
    published = published_scores(pd.read_csv(published) if published.is_file() else
                                 pd.DataFrame(columns=["game", "method", "score", "metric", "status"]))

    def verdicts(parts: list[tuple[Path, list]]) -> pd.DataFrame:
        runs, episodes, demonstrators = [], [], None
        for folder, chosen in parts:
            found, played, demo, *_ = collect(folder, chosen, stats, main_set)
            runs.append(found)
            episodes.append(played)
            demonstrators = demo if demonstrators is None else demonstrators
        scores = score_runs(pd.concat(runs, ignore_index=True), pd.concat(episodes, ignore_index=True),
                            demonstrators, random, config["window_fraction"])
        summary, _ = Ledger(scores, published, demonstrators, config["error_rate"]).evaluate()
        return summary.set_index("claim")

    before = verdicts([(reference, every)])
    after = verdicts([(reference, [cell for cell in every if cell not in swapped]), (scratch, swapped)])
    return pd.DataFrame({"text": before["text"], "committed": before["verdict"], "with reruns": after["verdict"]})


# ------------------------------------------------------------------------------------------------------- verify
def verify(reference: str, wanted: list[str], out: str | None, config_file: str | None, code_from: str) -> str:
    """Rerun the chosen cells, compare, rebuild the ledger; returns the report (Markdown), also written to
    OUT/report.md."""
    reference = Path(reference)
    if not reference.is_dir():
        raise ConfigError(f"--reference {reference} is not a folder; point it at a reference folder such as "
                          "reference/default")
    # Absolute: the reruns run from the folder of the code they train with.
    scratch = (Path(out) if out else ROOT / "results" / reference.resolve().name / "verify").absolute()
    if scratch.resolve() == reference.resolve() or reference.resolve() in scratch.resolve().parents or (
            scratch.resolve().is_relative_to(ROOT / "reference")):
        raise ConfigError(f"--out {scratch} is inside the committed reference results; reruns go to a scratch folder "
                          "such as results/<config>/verify")
    cells = pick(reference_cells(reference), wanted, reference)
    config = workflow_config(reference, config_file)
    check_folder(scratch, "--out")
    code = Code(code_from, scratch)
    plans = []
    for cell in cells:  # every cell checked before anything is computed
        record = yaml.safe_load((cell.folder / "config.yaml").read_text())
        commit = (json.loads((cell.folder / "provenance.json").read_text()).get("git") or {}).get("commit", "")
        code.tree(commit)
        if code_from == "checkout":  # a record this code cannot run is refused now (the recorded code checks its own)
            resolve(cell.game, cell.method, cell.seed, train_config(record))
        demos = demo_file(cell, record, config, scratch, code, commit) if cell.demos != NO_DEMOS else None
        plans.append((cell, record, commit, demos))
    total = sum(cell.wall_s for cell in cells)
    print(f"rerunning {len(cells)} cell{'s' * (len(cells) != 1)} of {reference} (recorded wall time {total:.0f} s in "
          f"all) into {scratch}", flush=True)
    sections = []
    for cell, record, commit, demos in plans:
        sections.append(rerun(cell, record, commit, demos, scratch, code))
        same = sections[-1]["progress"]["identical"] and sections[-1]["eval"]["identical"]
        print(f"  {cell.name()}: {'identical' if same else 'differs'} (recorded {cell.wall_s:.0f} s, rerun "
              f"{sections[-1]['wall_s']:.0f} s)", flush=True)
    verdicts = ledger(reference, config, cells, scratch)
    report = to_markdown(reference, scratch, cells, sections, verdicts, this_machine())
    write_text(scratch / "report.md", report)
    return report


def rerun(cell: Cell, record: dict, commit: str, demos: tuple[Path, str] | None, scratch: Path, code: Code) -> dict:
    """Train the cell again into the scratch folder and compare it with its record. `demos`: its demo file, recorded
    again and checked, and how it was checked."""
    folder = scratch / cell.path()
    given = record
    if code.which == "recorded":  # the recorded commit's code knows the settings by the names of its day
        declared = yaml.safe_load(git("show", f"{commit}:agents/defaults.yaml") or "{}") or {}
        given = {**record, "settings": settings_as_of(record["settings"], declared.get("settings", {}))}
    code.command(commit, "train", "--game", cell.game, "--method", cell.method, "--seed", str(cell.seed),
                 *(["--demos", str(demos[0])] if demos else []),
                 "--out", str(folder), "--threads", str(record.get("threads", 1)),
                 "--device", str(record.get("device", "cpu")), "--config-json", json.dumps(train_config(given)),
                 log=scratch / "logs" / f"train_{cell.game}_{cell.method}_{cell.demos}_seed_{cell.seed}.log")
    fresh = yaml.safe_load((folder / "config.yaml").read_text())
    fresh["settings"] = settings_as_today(fresh["settings"])
    recorded_settings, fresh_settings = values(record["settings"]), values(fresh["settings"])
    changed = [key for key in recorded_settings if fresh_settings.get(key) != recorded_settings[key]]
    if changed:  # the rerun config states every recorded value: a difference is a bug of this module
        raise ConfigError(f"the rerun of {cell.name()} resolved {', '.join(changed)} otherwise than recorded")
    provenance = [json.loads((path / "provenance.json").read_text()) for path in (cell.folder, folder)]
    machines = [machine(provenance[0], record), machine(provenance[1], fresh)]
    if code.which == "recorded":  # the extracted code is no git checkout: its provenance cannot name its commit
        machines[1]["commit"] = f"{commit} (extracted)"
    return {
        "cell": cell,
        "wall_s": json.loads((folder / "summary.json").read_text())["wall_s"],
        "scores": [json.loads((path / "summary.json").read_text())["eval_score_mean"]
                   for path in (cell.folder, folder)],
        "progress": compare_table(cell.folder / "progress.csv", folder / "progress.csv", progress_label),
        "eval": compare_table(cell.folder / "eval.csv", folder / "eval.csv", eval_label),
        "machines": machines,
        "code": code_drift(commit, code),
        "added": {key: fresh["settings"][key] for key in fresh_settings if key not in recorded_settings},
        "demos": demos[1] if demos else None,
    }


def table_line(name: str, result: dict) -> str:
    if result["identical"]:
        return f"- {name}: **identical** ({result['rows']} rows)"
    if "note" in result:
        return f"- {name}: differs: {result['note']}"
    first = result["first"]
    size = (f" (absolute {first['absolute']:.3g}, relative {first['relative']:.3g})" if "absolute" in first else "")
    rows = (f"{result['differing_rows']} of {min(result['rows'], result['rerun_rows'])} rows differ"
            + (f"; {result['rows']} rows recorded, {result['rerun_rows']} rerun" if result["rows"] != result[
                "rerun_rows"] else ""))
    return (f"- {name}: **differs** from row {first['row']} ({first['where']}), column {first['column']}: recorded "
            f"{first['recorded']}, rerun {first['rerun']}{size}; {rows}")


def to_markdown(reference: Path, scratch: Path, cells: list[Cell], sections: list[dict],
                verdicts: pd.DataFrame, here: str) -> str:
    identical = sum(s["progress"]["identical"] and s["eval"]["identical"] for s in sections)
    lines = [f"# Verification of {reference}", "",
             f"{len(cells)} cell{'s' * (len(cells) != 1)} rerun on this machine into {scratch}, from the settings "
             f"their config.yaml records: **{identical} of {len(cells)} identical** to the committed records "
             "(progress.csv but for wall time, and eval.csv, value by value; the reference keeps no weights).", "",
             f"This machine: {here}.", ""]
    for section in sections:
        cell, (recorded, rerun) = section["cell"], section["machines"]
        lines += [f"## {cell.name()}", "",
                  f"Recorded {cell.wall_s:.0f} s, rerun {section['wall_s']:.0f} s; final score recorded "
                  f"{section['scores'][0]:g}, rerun {section['scores'][1]:g}.", "",
                  table_line("progress.csv", section["progress"]), table_line("eval.csv", section["eval"])]
        if section["demos"]:
            lines.append(f"- demonstrations recorded again: {section['demos']}")
        lines.append(f"- code: {section['code']}")
        if section["added"]:
            lines.append("- settings the record predates, at today's defaults: " + ", ".join(
                f"{key}={entry['value']!r}" for key, entry in section["added"].items()))
        keys = list(dict.fromkeys([*recorded, *rerun]))
        same = [f"{key.removeprefix('package ')} {recorded[key]}" for key in keys
                if key.startswith("package ") and recorded.get(key) == rerun.get(key)]
        lines += ["", "| machine and code | recorded | rerun |", "|---|---|---|"]
        for key in keys:
            old, new = recorded.get(key), rerun.get(key)
            if key.startswith("package ") and old == new:
                continue
            mark = " ≠" if old is not None and old != new else ""
            lines.append(f"| {key}{mark} | {'not recorded' if old is None else old} | "
                         f"{'not recorded' if new is None else new} |")
        lines += ["", f"Package versions the same: {', '.join(same)}." if same else "", ""]
    # Verdicts only: a claim the matrix does not run, or a published score shown as context, has none to hold.
    tested = verdicts[(verdicts["committed"] != "not run") & ~verdicts["committed"].str.startswith("context")]
    held = (tested["committed"] == tested["with reruns"]).sum()
    lines += ["## Claims ledger", "",
              f"Rebuilt from every run of {reference} (today's ledger code), as committed and with the "
              f"{len(cells)} rerun{'s' * (len(cells) != 1)} in place of their records: **{held} of {len(tested)} "
              f"verdicts hold** (the ledger's {len(verdicts) - len(tested)} other claims are not run by this matrix "
              "or shown as context).", "",
              "| claim | committed | with reruns |", "|---|---|---|"]
    lines += [f"| {row['text']} | {row['committed']} | {row['with reruns']}"
              f"{'' if row['committed'] == row['with reruns'] else ' (changed)'} |"
              for _, row in tested.iterrows()]
    return "\n".join(lines) + "\n"
