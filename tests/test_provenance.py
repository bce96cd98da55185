"""What a run records of the machine: enough to tell why two machines' runs differ in their last bits."""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

from agents.numerics import check
from agents.provenance import provenance

ROOT = Path(__file__).resolve().parent.parent


def test_provenance_names_the_cpu_the_kernels_it_dispatches_to_and_the_libraries():
    numerics = check("native", 1, torch.device("cpu"))
    record = json.loads(json.dumps(provenance(0, torch.device("cpu"), 1.0, compiled=False, bfloat16=False,
                                                 numerics=numerics)))
    cpu = record["cpu"]
    assert cpu["model"] and cpu["architecture"] == platform.machine()
    assert cpu["torch_dispatch"] == torch.backends.cpu.get_cpu_capability()
    if platform.machine() == "x86_64" and Path("/proc/cpuinfo").is_file():
        assert "sse4_2" in cpu["vector_isa"]  # every x86-64 CPU torch supports has it
    assert record["device_name"] == cpu["model"]
    assert record["threads"]["torch"] == torch.get_num_threads()
    if torch.backends.mkldnn.is_available():
        assert record["libraries"]["onednn"].startswith("v")


def test_a_cap_on_the_kernels_instruction_set_is_recorded_with_what_torch_then_dispatches_to():
    script = ("import json, torch; from agents.numerics import check; from agents.provenance import provenance; "
              "cpu = torch.device('cpu'); "
              "print(json.dumps(provenance(0, cpu, 1.0, compiled=False, bfloat16=False, "
              "numerics=check('native', 1, cpu))['cpu']))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "ATEN_CPU_CAPABILITY": "default"})
    cpu = json.loads(result.stdout)
    assert cpu["caps"]["ATEN_CPU_CAPABILITY"] == "default" and cpu["torch_dispatch"] == "DEFAULT"
