"""The `numerics` setting: which CPU kernels a run computes with, and what they dispatched to.

native: torch, oneDNN, MKL and numpy each pick kernels for the widest vector instructions the CPU has (AVX2, AVX-512,
AMX, ...). A run is identical on one machine at one thread count; on a CPU with other instructions the last bits of a
result differ, and an RL run grows them into another trajectory.

portable: every library that picks its kernels by the CPU is pinned to code that any x86-64 CPU with AVX2 and FMA
(Intel from Haswell, 2013; AMD from Zen, 2017) runs with the same results:
- ATEN_CPU_CAPABILITY=avx2: ATen's own kernels (elementwise ops, reductions, the fused Adam step) are the AVX2 build,
  the same compiled instructions on every such CPU;
- ONEDNN_MAX_CPU_ISA=AVX2: oneDNN, which runs the convolutions, generates AVX2 code;
- MKL_CBWR=COMPATIBLE: MKL, which runs the linear layers' matrix products, takes its conditional numerical
  reproducibility branch for Intel and AMD CPUs alike (its AVX2 branch is for Intel CPUs only: on others MKL falls
  back to its AUTO branch, which follows the CPU);
- NPY_DISABLE_CPU_FEATURES: numpy without its AVX-512 loops, whose power, log1p and exp round differently from the
  AVX2 ones (the replay's priorities, importance weights and reward transform go through them);
and the run computes on one CPU thread (a reduction split over threads adds in an order set by their number), eagerly
(the compiled loss is code generated for the CPU at hand) and in float32 (bfloat16 has no AVX2 instructions), with
torch's deterministic algorithms. Each library reads its variable once, as it loads: `pin` sets them before torch or
numpy is imported (agents/__main__.py), and `check`, once torch has loaded, confirms what each one dispatches to and
refuses the run where a pin did not take.
"""
from __future__ import annotations

import functools
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

from .errors import ConfigError

# numpy names its dispatch targets by version: AVX512F ... AVX512_SPR up to 2.3, X86_V4 and AVX512_* from 2.4. Each
# version ignores the names it lacks (with an ImportWarning, hidden by default); `check` confirms the outcome.
NUMPY_ABOVE_AVX2 = ("X86_V4", "AVX512F", "AVX512CD", "AVX512_KNL", "AVX512_KNM", "AVX512_SKX", "AVX512_CLX",
                    "AVX512_CNL", "AVX512_ICL", "AVX512_SPR")
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE",
        "NPY_DISABLE_CPU_FEATURES": " ".join(NUMPY_ABOVE_AVX2)}
X86_64 = ("x86_64", "AMD64")
REQUIRED_FLAGS = ("avx2", "fma")  # the instructions ATen's AVX2 kernels are compiled for
# MKL's CNR branches (mkl_cbwr.h), by the number mkl_cbwr_get(MKL_CBWR_BRANCH) returns.
MKL_BRANCHES = {1: "off", 2: "AUTO", 3: "COMPATIBLE", 4: "SSE2", 8: "SSE4_2", 9: "AVX", 10: "AVX2", 12: "AVX512",
                14: "AVX512_E1", 16: "AVX512_E2", 17: "AVX512_E3", 18: "AVX512_E4", 19: "AVX2_E1", 20: "AVX512_E5"}


# What each library must dispatch to under portable numerics: (record key, how a refusal names it, the test).
PORTABLE_DISPATCH = (
    ("torch_dispatch", "torch dispatches to", lambda found: found == "AVX2"),
    ("onednn_isa", "oneDNN generates", lambda found: found in ("Intel AVX2", "none")),
    ("mkl_branch", "MKL's branch is", lambda found: found in ("COMPATIBLE", "none")),
    ("numpy_dispatch", "numpy dispatches to", lambda found: not set(found) & set(NUMPY_ABOVE_AVX2)),
)
# The extension module whose import means the library's code has run (agents/lazy.py registers torch in sys.modules
# long before it loads).
LOADED_BY = {"torch": ("torch._C",), "numpy": ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath")}


def cpuinfo() -> tuple[str | None, set[str]]:
    """The CPU's model name and instruction-set flags as Linux reports them; (None, empty) elsewhere."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, set()
    model = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    flags = re.search(r"^flags\s*:\s*(.+)$", info, re.MULTILINE)
    return model.group(1).strip() if model else None, set(flags.group(1).split()) if flags else set()


def refusal(mode: str, threads: int, device: str) -> str | None:
    """Why a run with these numerics, threads and device (a torch device name) cannot be portable, or None."""
    if mode != "portable":
        return None
    if device.startswith("cuda"):
        return (f"numerics: portable pins CPU kernels, and --device {device} computes on CUDA, whose kernels differ "
                "by GPU; use --device cpu (or auto, which is the CPU under portable numerics), or numerics: native")
    if threads != 1:
        return (f"numerics: portable computes on one CPU thread (a reduction split over --threads {threads} adds in "
                "an order set by their number); use --threads 1 (threads_per_run: 1), or numerics: native")
    if platform.machine() not in X86_64:
        return (f"numerics: portable pins x86-64 AVX2 kernels, and this machine is {platform.machine()}; its runs "
                "cannot match x86-64 ones bit for bit: use numerics: native")
    _, flags = cpuinfo()
    missing = [flag for flag in REQUIRED_FLAGS if flags and flag not in flags]
    if missing:
        return (f"numerics: portable pins AVX2 kernels, and this CPU lacks {' and '.join(missing).upper()}; use "
                "numerics: native")
    return None


def pin(mode: str, threads: int, device: str) -> None:
    """Set the portable pins in this process's environment, before torch and numpy load; refuse in one line what
    cannot be portable. Native numerics change nothing."""
    problem = refusal(mode, threads, "cpu" if device == "auto" else device)
    if problem:
        raise ConfigError(problem)
    if mode != "portable":
        return
    for name, value in PINS.items():
        given = os.environ.get(name)
        if given is not None and given != value:
            raise ConfigError(f"{name}={given} is set, and numerics: portable pins it to {value!r}; unset it, or run "
                              "numerics: native to cap the kernels yourself")
    late = [module for module, names in LOADED_BY.items() if any(name in sys.modules for name in names)]
    if late and any(os.environ.get(name) != value for name, value in PINS.items()):
        raise ConfigError(f"numerics: portable is pinned before {' and '.join(late)} load(s), and this process has "
                          "loaded them already; start the run in a process of its own (python -m agents train)")
    os.environ.update(PINS)


def check(mode: str, threads: int, device) -> dict:
    """What this run's numerics are and what each library dispatches to, now that torch has loaded; under portable
    numerics, the refusal of a run whose pins did not all take. `device` is the run's torch.device."""
    import torch

    problem = refusal(mode, threads, str(device))
    if problem:
        raise ConfigError(problem)
    if mode == "portable":
        torch.use_deterministic_algorithms(True)
    record = {"mode": mode, "pinned": dict(PINS) if mode == "portable" else {},
              "torch_dispatch": torch.backends.cpu.get_cpu_capability(), "onednn_isa": onednn_isa(),
              "mkl_branch": mkl_branch(), "numpy_dispatch": numpy_dispatch(),
              "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
    if mode == "portable":
        wrong = [f"{what} {record[key]!r}" for key, what, good in PORTABLE_DISPATCH if not good(record[key])]
        if wrong:
            raise ConfigError(f"numerics: portable did not take: {', '.join(wrong)} (this CPU lacks AVX2, or the "
                              "libraries loaded before the pins were set); run python -m agents train in a process of "
                              "its own, on an x86-64 CPU with AVX2")
    return record


@functools.cache  # oneDNN states its ISA once per process, with its first verbose primitive, and fixes it as it loads
def onednn_isa() -> str:
    """The instruction set oneDNN generates its kernels for, as its verbose mode states it ('Intel AVX2'), read from a
    small convolution run with verbose output going to a file; 'none' where torch has no oneDNN."""
    import torch

    if not torch.backends.mkldnn.is_available():
        return "none"
    # oneDNN prints to the process's standard output (file descriptor 1), past Python's sys.stdout.
    images, weights = torch.zeros(2, 4, 12, 12).to(memory_format=torch.channels_last), torch.zeros(8, 4, 3, 3)
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 1)
        try:
            with torch.no_grad(), torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON):
                torch.nn.functional.conv2d(images, weights)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
        capture.seek(0)
        found = re.search(r"info,cpu,isa:([^\n]+)", capture.read().decode(errors="replace"))
    return found.group(1).strip() if found else "unknown"


def mkl_branch() -> str:
    """MKL's conditional-numerical-reproducibility branch ('off' when none is set), asked of the MKL inside torch;
    'none' where torch has no MKL, 'unknown' where its build does not export the query."""
    import ctypes

    import torch

    if not torch.backends.mkl.is_available():
        return "none"
    try:
        library = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        query = library.mkl_serv_cbwr_get  # mkl_cbwr_get under the name torch's static MKL exports
    except (OSError, AttributeError):
        return "unknown"
    query.restype, query.argtypes = ctypes.c_int, [ctypes.c_int]
    branch = query(1) & 0xFFFF  # 1 asks for MKL_CBWR_BRANCH; the bits above are the STRICT flag
    return MKL_BRANCHES.get(branch, f"branch {branch}")


def numpy_dispatch() -> list[str]:
    """numpy's dispatch targets above its baseline that this process uses."""
    import numpy

    core = getattr(numpy, "_core", None) or numpy.core
    umath = core._multiarray_umath
    return [target for target in umath.__cpu_dispatch__ if umath.__cpu_features__.get(target)]
