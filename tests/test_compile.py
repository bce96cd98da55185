"""The `compile` and `mixed_precision` settings: which runs compile their loss and compute their convolutions in
bfloat16, and a compiled loss that computes what the eager one does.
Same-machine determinism and resume of a compiled run are tested with the eager ones, in tests/test_resume.py."""
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.cell import resolve, values
from agents import learner as learner_module
from agents.learner import COMPILE_FROM_UPDATES, Learner, compiles, computes_bfloat16
from agents.rules import planned_updates
from agents.settings import Settings

CONFIG = {"settings": {"replay_capacity": 64, "batch_size": 4, "agent_steps": 100, "pretrain_updates": 10},
          "method_settings": {"soft_q_pretrain": {"learning_starts": 20}}}


def test_auto_compiles_the_long_runs_and_leaves_the_short_ones_eager():
    long = Settings.of(resolve("Pong", "dqfd", 0, {})["settings"])
    short = Settings.of(resolve("Pong", "dqfd", 0, CONFIG)["settings"])
    assert planned_updates(long, "dqfd") >= COMPILE_FROM_UPDATES > planned_updates(short, "dqfd")
    long_updates, short_updates = planned_updates(long, "dqfd"), planned_updates(short, "dqfd")
    assert compiles(long, long_updates) and not compiles(short, short_updates)
    assert compiles(replace(short, compile="always"), short_updates)
    assert not compiles(replace(long, compile="never"), long_updates)


@pytest.mark.parametrize("native", [True, False])
def test_auto_takes_bfloat16_where_the_loss_compiles_and_the_device_computes_it_natively(monkeypatch, native):
    monkeypatch.setattr(learner_module, "native_bfloat16", lambda device: native)
    settings, cpu = Settings.of(resolve("Pong", "dqfd", 0, {})["settings"]), torch.device("cpu")
    assert settings.mixed_precision == "auto"
    assert computes_bfloat16(settings, compiled=True, device=cpu) == native
    assert not computes_bfloat16(settings, compiled=False, device=cpu)  # short runs stay float32 (their references)
    assert computes_bfloat16(replace(settings, mixed_precision="always"), compiled=False, device=cpu)
    assert not computes_bfloat16(replace(settings, mixed_precision="never"), compiled=True, device=cpu)


def test_a_cpu_whose_onednn_is_capped_below_bfloat16_does_not_count_as_computing_it_natively():
    # oneDNN reads its cap once, as it loads: a process of its own. On a CPU without AVX-512 BF16 it holds trivially.
    probe = ("import torch; from agents.learner import native_bfloat16; from agents.numerics import onednn_isa; "
             "print(native_bfloat16(torch.device('cpu')), onednn_isa())")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            env={**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"})
    assert result.stdout.strip() == "False Intel AVX2", result.stdout


def test_a_learner_builds_its_network_in_the_precision_it_resolved(monkeypatch):
    monkeypatch.setattr(learner_module, "native_bfloat16", lambda device: True)
    cell = resolve("Pong", "dqfd", 0, CONFIG)
    compiled = replace(Settings.of(cell["settings"]), compile="always")
    for settings, expected in ((compiled, True), (replace(compiled, mixed_precision="never"), False)):
        learner = Learner("dqfd", settings, values(cell["protocol"]), 6, torch.device("cpu"),
                          np.random.default_rng(0), 64, 64, 10)
        assert learner.bfloat16 == learner.online.mixed_precision == learner.target.mixed_precision == expected


def test_a_run_resumed_on_a_machine_without_native_bfloat16_keeps_the_precision_it_started_in(monkeypatch):
    cell = resolve("Pong", "dqfd", 0, CONFIG)
    compiled = replace(Settings.of(cell["settings"]), compile="always")

    def learner(native):
        monkeypatch.setattr(learner_module, "native_bfloat16", lambda device: native)
        return Learner("dqfd", compiled, values(cell["protocol"]), 6, torch.device("cpu"), np.random.default_rng(0),
                       64, 64, 10)

    started, resumed = learner(native=True), learner(native=False)
    assert started.bfloat16 and not resumed.bfloat16
    resumed.load_state_dict(started.state_dict())
    assert resumed.bfloat16 and resumed.online.mixed_precision and resumed.target.mixed_precision


@pytest.mark.parametrize("method", ["dqfd", "bc", "soft_q_pretrain"])
def test_a_compiled_loss_gives_the_eager_loss_metrics_priorities_and_gradients(method):
    torch._dynamo.reset()
    cell = resolve("Pong", method, 0, dict(CONFIG, settings=dict(CONFIG["settings"], compile="always")))
    settings, protocol = Settings.of(cell["settings"]), values(cell["protocol"])
    torch.manual_seed(0)
    learner = Learner(cell["algorithm"], settings, protocol, num_actions=6, device=torch.device("cpu"),
                      rng=np.random.default_rng(0), demo_capacity=0, agent_capacity=64,
                      planned_updates=planned_updates(settings, cell["algorithm"]))
    assert learner.compiled
    rng = np.random.default_rng(1)
    learner.begin_episode(rng.integers(0, 256, (84, 84), dtype=np.uint8))
    for step in range(20):
        learner.observe(int(rng.integers(6)), float(rng.normal()), step == 19,
                        rng.integers(0, 256, (84, 84), dtype=np.uint8))
    learner.end_episode()
    _, batch = learner.replay.sample(4, beta=0.5)
    batch = batch.to(learner.device)
    batch.is_demo[:2] = True  # demonstration rows, so that the supervised terms are not zero

    results = []
    for loss in (learner.algorithm.loss, learner.loss):
        learner.online.zero_grad(set_to_none=True)
        out = loss(batch, learner.online, learner.target)
        out.total.backward()
        results.append((out, [parameter.grad.clone() for parameter in learner.online.parameters()]))
    (eager, eager_grads), (compiled, compiled_grads) = results
    torch.testing.assert_close(compiled.total, eager.total, rtol=1e-5, atol=1e-6)
    assert eager.metrics.keys() == compiled.metrics.keys()
    for key in eager.metrics:
        torch.testing.assert_close(compiled.metrics[key], eager.metrics[key], rtol=1e-5, atol=1e-6)
    if eager.td_errors is not None:
        torch.testing.assert_close(compiled.td_errors, eager.td_errors, rtol=1e-5, atol=1e-6)
    for compiled_grad, eager_grad in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-4, atol=1e-6)
