"""Portable numerics (agents/numerics.py): runs identical whatever the CPU offers above AVX2, and the refusals.

This machine is the only one the test has: it stands in for a CPU that has AVX2 and nothing more by capping every
library at AVX2 from the start of the process (and OpenCV, which portable numerics leave alone, below AVX-512), and
checks that a portable run, which sets its pins itself, is byte for byte the run made under those caps. Where the
machine has AVX-512, the same two settings in native numerics must differ: the pins are what makes them agree.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from agents.cell import resolve
from agents.errors import ConfigError
from agents.learner import compiles, computes_bfloat16, pick_device
from agents.numerics import PINS, check, cpuinfo, pin, refusal
from agents.rules import planned_updates
from agents.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TINY = ["train", "--game", "Pong", "--method", "pdd_dqn", "--seed", "0", "--config", "config/tiny.yaml",
        "--checkpoint-every-min", "100"]
PORTABLE = json.dumps({"settings": {"numerics": "portable"},
                       "method_settings": {"pdd_dqn": {"agent_steps": 300, "learning_starts": 100}}})
NATIVE = json.dumps({"method_settings": {"pdd_dqn": {"agent_steps": 300, "learning_starts": 100}}})
# An AVX2 CPU, as far as this one can stand in for it: the pins, set before anything loads, and OpenCV without AVX-512.
AVX2_CPU = {**PINS, "OPENCV_CPU_DISABLE": "AVX512_SKX,AVX512_CLX,AVX512_CNL,AVX512_ICL"}
PORTABLE_HERE = refusal("portable", 1, "cpu") is None


def train(folder: Path, config: str, environment: dict) -> Path:
    clean = {name: value for name, value in os.environ.items() if name not in AVX2_CPU}
    done = subprocess.run([sys.executable, "-m", "agents", *TINY, "--out", str(folder), "--config-json", config],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**clean, **environment, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def records(folder: Path) -> dict[str, bytes]:
    """What must be identical: progress.csv without its wall-time column, eval.csv and the weights."""
    lines = (folder / "progress.csv").read_text().splitlines()
    wall = lines[0].split(",").index("wall_s")
    progress = "\n".join(",".join(cell for index, cell in enumerate(line.split(",")) if index != wall)
                         for line in lines)
    return {"progress": progress.encode(), "eval": (folder / "eval.csv").read_bytes(),
            "model": (folder / "model.pt").read_bytes()}


@pytest.mark.skipif(not PORTABLE_HERE, reason=f"this machine cannot run portable numerics: "
                                             f"{refusal('portable', 1, 'cpu')}")
def test_a_portable_run_is_the_run_of_an_avx2_cpu(tmp_path):
    here = train(tmp_path / "here", PORTABLE, {})
    capped = train(tmp_path / "avx2", PORTABLE, AVX2_CPU)
    assert records(here) == records(capped)
    numerics = json.loads((here / "provenance.json").read_text())["numerics"]
    assert numerics["mode"] == "portable" and numerics["torch_dispatch"] == "AVX2"
    assert numerics["onednn_isa"] == "Intel AVX2" and numerics["mkl_branch"] == "COMPATIBLE"
    assert numerics["deterministic_algorithms"] and numerics["pinned"] == PINS
    assert "portable" in (here / "config.yaml").read_text()


@pytest.mark.skipif(not PORTABLE_HERE or "avx512f" not in cpuinfo()[1],
                    reason="needs a CPU with AVX-512 to run native kernels of two widths")
def test_native_runs_with_avx512_and_with_avx2_kernels_differ(tmp_path):
    wide = train(tmp_path / "avx512", NATIVE, {})
    narrow = train(tmp_path / "avx2", NATIVE, {name: PINS[name] for name in ("ATEN_CPU_CAPABILITY",
                                                                              "ONEDNN_MAX_CPU_ISA")})
    assert json.loads((wide / "provenance.json").read_text())["numerics"]["torch_dispatch"] != "AVX2"
    assert records(wide)["progress"] != records(narrow)["progress"]
    assert records(wide)["model"] != records(narrow)["model"]


def test_what_cannot_be_portable_is_refused_in_one_line():
    assert "CUDA" in refusal("portable", 1, "cuda:0")
    assert "--threads 1" in refusal("portable", 2, "cpu")
    assert refusal("native", 4, "cuda") is None
    with pytest.raises(ConfigError, match="CUDA"):
        pin("portable", 1, "cuda")
    with pytest.raises(ConfigError, match="one CPU thread"):
        check("portable", 2, torch.device("cpu"))


def test_a_cap_set_by_hand_that_the_pins_contradict_is_refused(monkeypatch):
    if not PORTABLE_HERE:
        pytest.skip("this machine cannot run portable numerics")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    with pytest.raises(ConfigError, match="ATEN_CPU_CAPABILITY=default is set"):
        pin("portable", 1, "auto")


def test_pinning_after_torch_and_numpy_have_loaded_is_refused(monkeypatch):
    if not PORTABLE_HERE:
        pytest.skip("this machine cannot run portable numerics")
    for name in PINS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="process of its own"):
        pin("portable", 1, "cpu")  # this test process has loaded both
    assert not any(name in os.environ for name in PINS)


def test_native_numerics_record_what_each_library_dispatches_to():
    record = check("native", 1, torch.device("cpu"))
    assert record["mode"] == "native" and record["pinned"] == {}
    assert record["torch_dispatch"] == torch.backends.cpu.get_cpu_capability()
    assert record["onednn_isa"] not in ("", "unknown") and record["mkl_branch"]
    assert isinstance(record["numpy_dispatch"], list)
    assert check("native", 1, torch.device("cpu")) == record  # a second run in one process records the same


def test_portable_numerics_run_eager_in_float32_on_the_cpu(monkeypatch):
    def settings(**values):
        config = {"settings": {"numerics": "portable", **values}}
        return Settings.of(resolve("Pong", "dqfd", 0, config)["settings"])

    long = settings(pretrain_updates=750_000)
    assert not compiles(long, planned_updates(long, "dqfd"))  # compile: auto would compile a run this long
    with pytest.raises(ConfigError, match="compile: always"):
        settings(compile="always")
    with pytest.raises(ConfigError, match="mixed_precision: always"):
        settings(mixed_precision="always")
    assert not computes_bfloat16(long, compiles(long, planned_updates(long, "dqfd")), torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto", "portable").type == "cpu" and pick_device("auto", "native").type == "cuda"
