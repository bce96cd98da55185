"""What produced a result: code version, package versions, the machine (CPU model, the instruction sets the kernels
dispatch to, thread settings, library versions, the GPU), seed, wall time."""
from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import torch

from .numerics import PINS, cpuinfo

PACKAGES = ("agents", "torch", "gymnasium", "ale-py", "numpy", "pandas", "opencv-python-headless")


def git_commit() -> dict:
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", False
    return {"commit": commit or "unknown (not a git checkout)", "dirty": dirty}


def package_versions() -> dict:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# Vector instruction sets that decide which CPU kernels torch and oneDNN run, so the last bits of a result.
VECTOR_ISA = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def cpu() -> dict:
    """The CPU's model and vector instruction sets, what torch's kernels dispatch to, and any cap set on the kernels
    (by hand, or by portable numerics: agents/numerics.py)."""
    model, flags = cpuinfo()  # not Linux: the model platform reports, no flags
    return {
        "model": model or platform.processor() or platform.machine(),
        "architecture": platform.machine(),
        "vector_isa": [name for name in VECTOR_ISA if name in flags],
        "torch_dispatch": torch.backends.cpu.get_cpu_capability(),  # ATen's kernels: DEFAULT, AVX2, AVX512, ...
        "caps": {name: os.environ.get(name, "not set") for name in PINS},
    }


def libraries() -> dict:
    """The math libraries inside torch (oneDNN, MKL or OpenBLAS, OpenMP), as its build reports them, and on a GPU the
    CUDA and cuDNN versions."""
    built = torch.__config__.show()
    names = {"onednn": r"(?:oneDNN|MKL-DNN) (v[\d.]+)", "mkl": r"Math Kernel Library Version ([\w.-]+)",
             "openmp": r"OpenMP (\d+)", "blas": r"BLAS_INFO=(\w+)"}
    found = {name: (match.group(1) if (match := re.search(pattern, built)) else "none")
             for name, pattern in names.items()}
    if torch.cuda.is_available():
        found.update(cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return found


def threads() -> dict:
    return {"torch": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
            **{name: os.environ.get(name, "not set") for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}}


def provenance(seed: int, device: torch.device, wall_s: float, compiled: bool, bfloat16: bool,
               numerics: dict) -> dict:
    """`compiled`: whether the loss ran through torch.compile (the `compile` setting as this run resolved it);
    `bfloat16`: whether the convolutions computed in bfloat16 (`mixed_precision` as this run resolved it);
    `numerics`: the run's numerics and what each library dispatched to (agents/numerics.py's check)."""
    processor = cpu()
    return {
        "git": git_commit(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else processor["model"],
        "cpu": processor,
        "libraries": libraries(),
        "threads": threads(),
        "loss": "compiled" if compiled else "eager",
        "convolutions": "bfloat16" if bfloat16 else "float32",
        "numerics": numerics,
        "seed": seed,
        "wall_s": wall_s,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
