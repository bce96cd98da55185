"""Speed and memory, measured side by side in one run on one machine (not a test: it takes minutes).

    python benchmarks/throughput.py [--game Pong] [--threads 2] [--out benchmarks/results.csv]

Every figure uses batch 32 and one update per 4 agent steps, and every agent acts at its method's final ε (the
exploration of all but the start of a run: greedy forward passes are part of the cost). It measures
- the environment alone: agent steps/s of one environment with the suite's protocol, and of ale-py's vector env;
- the suite end to end: `dqn`, `pdd_dqn` and `dqfd` through a real run (agents/run.py) (agent steps/s once updates run, and
  DQfD's pretraining updates/s), read from the run's own progress table;
- the network alone, right after each of those runs: updates/s of the method's full loss (forward, backward, optimiser
  step) with that run's own learner (networks and optimiser) on a batch already on the device, replay and environment taken
  away. Times 4 agent steps per update, that is the method's ceiling. Runs and ceilings alternate over a few rounds
  and the medians are reported, so that both see the same machine (other load on a shared machine moves either by
  up to 20% within minutes);
- stable-baselines3's DQN (same Nature CNN, batch 32, train_freq 4, same replay capacity, the same ε) as the reference
  a user would otherwise pick (`pip install stable-baselines3`; skipped with a note when it is missing);
- the replay: bytes per stored transition at 1M capacity, and the time to sample a prioritized batch of 32 from a
  full 1M-entry buffer.
Our methods run in four variants by default, side by side in the same run: eager float32 (the reference of the next
three ratios), the compiled loss (`compile: always`), bfloat16 convolutions (`mixed_precision: always`) and both; for
the compiled variants it also times the compile itself (the first update of a fresh learner with an empty kernel cache,
less a steady one). Two more on request, native and portable numerics (agents/numerics.py), each measure every round
in a process of their own, since the portable pins must be set before torch loads: native is the reference of
portable's ratio, and eager float32 like the first (`--variants native portable --threads 1` measures these two alone;
portable computes on one CPU thread).
It prints each figure and its ratio, and writes them all to a CSV.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.cell import resolve, values  # noqa: E402
from agents.declarations import defaults  # noqa: E402
from agents.envs import make_env  # noqa: E402
from agents.learner import COMPILE_FROM_UPDATES, Learner, compiles, computes_bfloat16, pick_device  # noqa: E402
from agents.network import QNetwork  # noqa: E402
from agents.numerics import PINS, refusal  # noqa: E402
from agents.replay import PrioritizedReplay, replay_bytes  # noqa: E402
from agents.rules import planned_updates  # noqa: E402
from agents.run import Run  # noqa: E402
from agents.settings import Settings  # noqa: E402

BATCH, UPDATE_PERIOD, METHODS = 32, 4, ("dqn", "pdd_dqn", "dqfd")
VARIANTS = {  # name: the settings that make it. A variant that sets numerics is measured in a process of its own.
    "eager": {"compile": "never", "mixed_precision": "never"},
    "compiled": {"compile": "always", "mixed_precision": "never"},
    "bf16": {"compile": "never", "mixed_precision": "always"},
    "compiled+bf16": {"compile": "always", "mixed_precision": "always"},
    "native": {"compile": "never", "mixed_precision": "never", "numerics": "native"},
    "portable": {"compile": "never", "mixed_precision": "never", "numerics": "portable"},
}
SPEED_VARIANTS = ("eager", "compiled", "bf16", "compiled+bf16")  # the default: one process, any thread count
REFERENCES = {"eager": None, "compiled": "eager", "bf16": "eager", "compiled+bf16": "eager", "native": None,
              "portable": "native"}  # the variant each one's ratio is taken against
rows: list[dict] = []


def record(section: str, name: str, value: float, unit: str, note: str = "") -> None:
    rows.append({"section": section, "name": name, "value": value, "unit": unit, "note": note})
    print(f"{section:>12} | {name:<44} {value:>12,.2f} {unit:<14} {note}", flush=True)


def protocol() -> dict:
    declared = defaults()
    return values(declared["protocols"][declared["default_protocol"]])


def environment_alone(game: str, steps: int, threads: int) -> None:
    env = make_env(game, protocol(), seed=0)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            env.reset()
    record("environment", "one env, the suite's protocol", steps / (time.perf_counter() - start), "agent steps/s")
    from ale_py.vector_env import AtariVectorEnv

    vector = AtariVectorEnv(game.lower(), num_envs=2 * threads, num_threads=threads, full_action_space=True)
    vector.reset(seed=0)
    actions = np.zeros(vector.num_envs, dtype=np.int64)
    start = time.perf_counter()
    for _ in range(steps // vector.num_envs):
        vector.step(actions)
    rate = (steps // vector.num_envs) * vector.num_envs / (time.perf_counter() - start)
    record("environment", f"ale-py AtariVectorEnv ({vector.num_envs} envs, {threads} threads)", rate, "agent steps/s")
    vector.close()


def cell(game: str, method: str, overrides: dict) -> dict:
    """The method's cell with the benchmark's overrides, acting at its final ε from the first step."""
    def resolved(settings: dict) -> dict:
        # Per-method settings: a method's own definition overrides config-wide ones (dqn's 50k replay start, say).
        config = {"method_settings": {method: {key: {"value": value, "origin": "benchmark"}
                                               for key, value in settings.items()}}}
        return resolve(game, method, 0, config)

    final = resolved(overrides)["settings"]["epsilon_final"]["value"]
    return resolved(dict(overrides, epsilon_start=final, epsilon_decay_steps=0))


def default_variant(game: str, method: str, device: torch.device) -> str:
    """The variant a run of the method with the default settings takes on this device once it is long enough to
    compile (the benchmark's own runs are short, so it names the variant rather than resolving `auto` itself)."""
    resolved = resolve(game, method, 0, {})
    settings = Settings.of(resolved["settings"])
    compiled = compiles(settings, max(planned_updates(settings, resolved["algorithm"]), COMPILE_FROM_UPDATES))
    bfloat16 = computes_bfloat16(settings, compiled, device)
    return {(False, False): "eager", (True, False): "compiled", (False, True): "bf16",
            (True, True): "compiled+bf16"}[compiled, bfloat16]


def network_alone(learner: Learner, updates: int) -> tuple[float, float]:
    """Updates/s of a learner's own loss, networks and optimiser on one batch already on the device: the update
    with replay and environment taken away, the ceiling of a run. With a compiled loss also the seconds its compile
    takes in a fresh process on a machine that has never compiled it (torch's caches reset, an empty kernel cache:
    a later run on the same machine finds its kernels on disk and compiles in about a second), else NaN."""
    _, batch = learner.replay.sample(BATCH, beta=0.6, demo_share=learner.algorithm.demo_share(0))
    batch = batch.to(learner.device)

    compile_s = float("nan")
    if learner.compiled:
        from torch._inductor.utils import fresh_cache

        torch._dynamo.reset()
        with fresh_cache():
            start = time.perf_counter()
            learner.gradient_step(batch)
            synchronize(learner.device)
            compile_s = time.perf_counter() - start
    for _ in range(5):
        learner.gradient_step(batch)
    synchronize(learner.device)
    start = time.perf_counter()
    for _ in range(updates):
        learner.gradient_step(batch)
    synchronize(learner.device)
    rate = updates / (time.perf_counter() - start)
    return rate, compile_s - 1 / rate


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def rates(progress: pd.DataFrame, phase: str) -> tuple[float, float]:
    """Agent steps/s and updates/s between the first and last progress rows of a phase (setup and evaluation out)."""
    rows_ = progress[(progress["kind"] == "updates") & (progress["phase"] == phase)]
    first, last = rows_.iloc[0], rows_.iloc[-1]
    elapsed = last["wall_s"] - first["wall_s"]
    return (last["agent_step"] - first["agent_step"]) / elapsed, (last["update"] - first["update"]) / elapsed


def end_to_end(game: str, method: str, demo_path, device: str, threads: int, updates: int, starts: int,
               capacity: int, rounds: int, variants: list[str]) -> dict[str, dict[str, float]]:
    """Rounds in which every variant runs the method through a real run, each run followed by the ceiling measured on
    its own learner; per variant, the medians over rounds of the rates and of their ratios to the ceiling. Variants
    alternate within a round, so that all see the same machine."""
    measured = {name: [] for name in variants}
    for seed in range(rounds):
        for name in variants:
            task = [game, method, demo_path, device, threads, updates, starts, capacity, seed, VARIANTS[name]]
            measured[name].append(in_own_process(task) if "numerics" in VARIANTS[name] else measure(*task))
    return {name: pd.DataFrame(rounds_).median().to_dict() for name, rounds_ in measured.items()}


def measure(game: str, method: str, demo_path, device: str, threads: int, updates: int, starts: int, capacity: int,
            seed: int, variant: dict) -> dict[str, float]:
    """One round of one variant: a real run, then the ceiling on its learner. Each run compiles afresh, as a run does
    in its own process; its progress rows start after the first update, so its rates leave the compile out."""
    overrides = {"agent_steps": starts + UPDATE_PERIOD * updates, "learning_starts": starts,
                 "replay_capacity": capacity, "eval_episodes": 1, **variant}
    if method == "dqfd":
        overrides["pretrain_updates"] = updates
    torch._dynamo.reset()
    with tempfile.TemporaryDirectory() as folder:
        run = Run(dict(cell(game, method, overrides), seed=seed), folder, demo_path if method == "dqfd" else None,
                  threads, device, checkpoint_dir=f"{folder}/checkpoints", checkpoint_every_s=1e9)
        run.execute()
        progress = pd.read_csv(f"{folder}/progress.csv")
    ceiling, compile_s = network_alone(run.learner, updates)
    steps, _ = rates(progress, "interact")
    result = {"ceiling": ceiling, "interact": steps, "interact_share": steps / (UPDATE_PERIOD * ceiling),
              "compile_s": compile_s}
    if method == "dqfd":
        _, pretrain = rates(progress, "pretrain")
        result.update(pretrain=pretrain, pretrain_share=pretrain / ceiling)
    return result


def in_own_process(task: list) -> dict[str, float]:
    """`measure(*task)` in a fresh process of this script, with the portable pins in its environment from the start
    when the variant's numerics are portable (they take effect only before torch loads) and none of them otherwise."""
    environment = {name: value for name, value in os.environ.items() if name not in PINS}
    if task[-1]["numerics"] == "portable":
        environment.update(PINS)
    done = subprocess.run([sys.executable, __file__, "--measure", json.dumps(task)], capture_output=True, text=True,
                          env=environment)
    if done.returncode != 0:
        sys.exit(f"the {task[-1]['numerics']} variant's process failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def acting(device: torch.device, steps: int) -> None:
    """Greedy actions per second of a batch-1 forward pass (how every method acts), eager and with the network's
    preferences compiled: whether compiling would pay for acting too."""
    network = QNetwork(18).to(device, memory_format=torch.channels_last)
    state = torch.randint(0, 256, (1, 4, 84, 84), dtype=torch.uint8, device=device)
    measured = {}
    for name, preferences in (("eager", network.preferences), ("compiled", torch.compile(network.preferences))):
        with torch.no_grad():
            for _ in range(20):  # the compile, and warm caches
                preferences(state).argmax(dim=1).cpu()
            start = time.perf_counter()
            for _ in range(steps):
                preferences(state).argmax(dim=1).cpu()  # the action is read back, as acting does
        measured[name] = steps / (time.perf_counter() - start)
    record("acting", "greedy action, batch 1, eager", measured["eager"], "actions/s")
    record("acting", "greedy action, batch 1, compiled", measured["compiled"], "actions/s",
           f"{measured['compiled'] / measured['eager']:.2f}× eager")


def stable_baselines3_dqn(game: str, updates: int, starts: int, capacity: int, device: str) -> float | None:
    try:
        import gymnasium as gym
        from stable_baselines3 import DQN
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack
    except ImportError:
        record("reference", "stable-baselines3 DQN", float("nan"), "agent steps/s", "not installed: skipped")
        return None
    import ale_py

    gym.register_envs(ale_py)

    class Clock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.marks = {}

        def _on_step(self) -> bool:
            if self.num_timesteps in (starts + UPDATE_PERIOD, starts + UPDATE_PERIOD * (updates + 1)):
                self.marks[self.num_timesteps] = time.perf_counter()
            return True

    env = VecFrameStack(make_atari_env(f"{game}NoFrameskip-v4", n_envs=1, seed=0,
                                       env_kwargs={"full_action_space": True}), n_stack=4)
    epsilon = cell(game, "dqn", {})["settings"]["epsilon_final"]["value"]
    model = DQN("CnnPolicy", env, buffer_size=capacity, learning_starts=starts, batch_size=BATCH,
                train_freq=UPDATE_PERIOD, gradient_steps=1, target_update_interval=10_000,
                exploration_initial_eps=epsilon, exploration_final_eps=epsilon, device=device, seed=0, verbose=0)
    clock = Clock()
    model.learn(total_timesteps=starts + UPDATE_PERIOD * (updates + 1), callback=clock)
    (first, t0), (last, t1) = sorted(clock.marks.items())
    return (last - first) / (t1 - t0)


def replay_memory_and_sampling(samples: int) -> None:
    capacity = 1_000_000
    record("replay", "bytes per transition at 1M capacity", replay_bytes(capacity, (84, 84)) / capacity, "bytes",
           "84×84 frames stored once; states stacked at sampling")
    replay = PrioritizedReplay(demo_capacity=0, agent_capacity=capacity, frame_shape=(84, 84), stack=4, n_step=10,
                               gamma=0.99, reward_transform="signed_log", prioritized=True, alpha=0.4, bonus_agent=1e-3,
                               bonus_demo=1.0, rng=np.random.default_rng(0))
    episode = 2_000  # 500 episodes of 2,000 steps fill it
    steps = np.arange(capacity) % episode
    replay.add_demonstrations(np.zeros((capacity, 84, 84), dtype=np.uint8), np.zeros(capacity, dtype=np.int64),
                              np.zeros(capacity, dtype=np.float32), steps == episode - 1,
                              steps != episode - 1, steps, permanent=False)
    all_slots = np.flatnonzero(replay.valid)
    replay.update_priorities(all_slots, np.random.default_rng(1).exponential(1.0, len(all_slots)))
    for _ in range(20):
        replay.sample(BATCH, beta=0.6)
    start = time.perf_counter()
    for _ in range(samples):
        replay.sample(BATCH, beta=0.6)
    record("replay", "prioritized sample of 32 from 1M (stacked, n-step)", 1e3 * (time.perf_counter() - start)
           / samples, "ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--game", default="Pong")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto", help="auto: CUDA when present")
    parser.add_argument("--updates", type=int, default=600, help="updates timed per measurement, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="alternations of end-to-end run and ceiling")
    parser.add_argument("--learning-starts", type=int, default=1000)
    parser.add_argument("--capacity", type=int, default=100_000, help="replay capacity of the end-to-end runs")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--variants", nargs="+", default=list(SPEED_VARIANTS), choices=VARIANTS,
                        help=f"the variants of the end-to-end runs (default: {' '.join(SPEED_VARIANTS)}); portable "
                             "needs --threads 1 and a CPU")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # one round of one variant, in a process of its own
    parser.add_argument("--demos", help="a demo file for DQfD (default: one episode recorded now)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results.csv"))
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*json.loads(args.measure))))
        return 0
    problem = refusal("portable", args.threads, args.device) if "portable" in args.variants else None
    if problem:
        sys.exit(f"error: the portable variant: {problem}")
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{platform.processor() or platform.machine()}, {args.threads} threads")
    print(f"{args.game}, batch {BATCH}, one update per {UPDATE_PERIOD} agent steps, torch {torch.__version__}, "
          f"{device} ({machine}); variants: {', '.join(args.variants)}", flush=True)

    environment_alone(args.game, 5000, args.threads)
    acting(device, 2000)

    demo_path = args.demos
    if demo_path is None:
        from agents.demos.files import record as record_demos

        folder = tempfile.mkdtemp()
        demo_path = f"{folder}/{args.game}.npz"
        record_demos(args.game, protocol(), episodes=1, seed=0, path=demo_path, stats_path=f"{folder}/stats.csv")
    ours = {}
    for method in args.methods:
        results = end_to_end(args.game, method, demo_path, str(device), args.threads, args.updates // args.rounds,
                             args.learning_starts, args.capacity, args.rounds, args.variants)
        for name, result in results.items():
            def versus(key: str) -> str:
                reference = REFERENCES[name]
                return (f"; {result[key] / results[reference][key]:.2f}× {reference}" if reference in results
                        else "")

            ceiling = result["ceiling"]
            record("network", f"{method} loss alone, {name}", ceiling, "updates/s",
                   f"ceiling {UPDATE_PERIOD * ceiling:,.0f} agent steps/s{versus('ceiling')}")
            ours[method, name] = result["interact"]
            record("end to end", f"{method} interaction, {name}", result["interact"], "agent steps/s",
                   f"{result['interact_share']:.0%} of its ceiling{versus('interact')}")
            if "pretrain" in result:
                record("end to end", f"{method} pretraining, {name}", result["pretrain"], "updates/s",
                       f"{result['pretrain_share']:.0%} of its ceiling{versus('pretrain')}")
            if result["compile_s"] == result["compile_s"]:  # not NaN: a compiled variant
                record("compile", f"{method}, {name}", result["compile_s"], "s",
                       "first update of a fresh process on a machine without compiled kernels, less a steady one")
        chosen = default_variant(args.game, method, device)
        if chosen in results and "eager" in results:
            for phase, unit in (("interact", "agent steps/s"), ("pretrain", "updates/s")):
                if phase in results[chosen]:
                    record("defaults", f"{method} {'interaction' if phase == 'interact' else 'pretraining'}, the "
                           f"default settings of a long run ({chosen})", results[chosen][phase], unit,
                           f"{results[chosen][phase] / results['eager'][phase]:.2f}× eager float32")
    sb3 = stable_baselines3_dqn(args.game, args.updates, args.learning_starts, args.capacity, str(device))
    if sb3:
        versus = ", ".join(f"{name} {rate / sb3:.2f}×" for (method, name), rate in ours.items() if method == "dqn")
        record("reference", "stable-baselines3 DQN", sb3, "agent steps/s",
               f"ours (dqn): {versus} its speed" if versus else "dqn not measured in this run (--methods)")
    replay_memory_and_sampling(1000)
    table = pd.DataFrame(rows).assign(device=str(device), machine=machine, torch=torch.__version__, game=args.game)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
