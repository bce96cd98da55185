"""The one trainer: phase I (updates on demonstrations only), phase II (ε-greedy interaction, one update every
`update_period` agent steps), then a final evaluation. Methods differ only in their loss and their settings.

Everything the rest of a run depends on (networks, optimizer, replay and priorities, counters, the current episode,
the emulator's state and every random generator) is checkpointed every few minutes, so a killed run resumes where its
last checkpoint stopped and ends exactly where an uninterrupted run ends.
"""
from __future__ import annotations

import copy
import ctypes
import hashlib
import json
import os
import pickle
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import demos as demo_files
from .checkpoint import Checkpoints
from .config import SCRIPTED, planned_updates, values
from .demonstrators import DEMONSTRATORS
from .envs import FrameStacker, make_env
from .errors import ConfigError, NonFiniteError, OutputError
from .io import atomic_write, check_folder, size_text, write_csv, write_json, write_yaml
from .methods import ALGORITHMS, LossOutput
from .network import QNetwork
from .progress import Progress
from .provenance import provenance
from .replay import PrioritizedReplay, check_fits_in_memory, replay_bytes

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own environment seed, never the training one
LOG_ROWS = 200  # loss rows per run in the progress table
PROGRESS_FLUSH_S = 60.0  # the live progress table is rewritten this often while a run is going
LIVE_PROGRESS = "progress.live.csv"  # not a declared output: the workflow never mistakes it for a finished run
DEMO_AGREEMENT_STATES = 8192  # demonstration states scored for agreement: at most this many, evenly spaced
AGREEMENT_BATCH = 256
PRETRAIN_EVAL_COLUMNS = ["update", "episode", "score", "length", "ended_by", "expert_agreement", "demo_agreement"]
# Free space a run asks for before it starts: its largest checkpoint times (kept + 1), as one is written before the
# oldest goes, plus its final weights and tables, all with a quarter more than counted (torch's file records, the
# pickled progress rows and the emulator's state are not counted). The progress table has a row per episode, some
# 150 bytes: TABLES_BYTES holds 400,000 episodes.
SPACE_MARGIN = 1.25
TABLES_BYTES = 64 << 20


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def keep_freed_memory() -> None:
    """Have glibc's malloc keep freed blocks under 32 MiB for reuse instead of returning them to the system.

    Every CPU update allocates and frees tens of MB of activations and gradients; by default glibc hands blocks that
    large back to the system and page-faults them in again on the next update, which made each `pdd_dqn` update on
    2 CPU threads about a fifth slower (52 against 42 ms). The replay's arrays, far larger, are still mapped on their
    own. PyTorch's CPU tuning guide suggests preloading jemalloc or tcmalloc for the same reason; this needs no extra
    library.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters, <malloc.h>
    libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest allowed value
    libc.mallopt(m_trim_threshold, 1 << 30)


def checkpoint_root(checkpoint_dir: Path, run_dir: Path) -> Path:
    """The folder under which a run's checkpoint folder was made: the checkpoint folder less the trailing folders it
    shares with the run folder (the workflow's results/checkpoints/Pong/dqfd/none/seed_0 beside
    results/runs/Pong/dqfd/none/seed_0 gives results/checkpoints), or the checkpoint folder itself. The folders from
    it down go with the last checkpoint once they are empty; never the run folder or one that holds it."""
    checkpoints, run = Path(os.path.abspath(checkpoint_dir)), Path(os.path.abspath(run_dir))
    shared = 0
    while (shared < min(len(checkpoints.parts), len(run.parts)) - 1
           and checkpoints.parts[-1 - shared] == run.parts[-1 - shared]):
        shared += 1
    root = checkpoints.parents[shared - 1] if shared else checkpoints
    return checkpoints if root == run or root in run.parents else root


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, cell: dict, run_dir: str | Path, demo_path: str | Path | None, threads: int, device: str,
                 checkpoint_dir: str | Path | None = None, checkpoint_every_s: float = 600.0):
        self.cell, self.run_dir = cell, Path(run_dir)
        self.settings, self.protocol = values(cell["settings"]), values(cell["protocol"])
        self.demo_path, self.threads = demo_path, threads
        self.device = pick_device(device)
        checkpoint_dir = Path(checkpoint_dir or self.run_dir / "checkpoints")
        self.checkpoints = Checkpoints(checkpoint_dir, root=checkpoint_root(checkpoint_dir, self.run_dir))
        self.checkpoint_every_s = checkpoint_every_s
        self.rows: list[dict] = []
        self.updates = 0  # gradient steps in both phases
        self.pretrained = 0  # gradient steps of phase I
        self.step = 0  # agent steps of phase II
        self.episode: dict | None = None  # the interaction episode in progress
        self.ladder_rows: list[dict] = []  # evaluations during pretraining (pretrain_eval_updates)
        self.elapsed_before = 0.0  # wall time spent by earlier processes of a resumed run

    # ------------------------------------------------------------------------------------------------------ setup
    def _setup(self) -> None:
        s, p, seed = self.settings, self.protocol, self.cell["seed"]
        torch.set_num_threads(self.threads)
        keep_freed_memory()
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.demos = None
        if s["use_demos"]:  # checked before anything is allocated
            if self.demo_path is None:
                raise demo_files.DemoFileError(f"method {self.cell['method']!r} uses demonstrations; pass --demos FILE")
            self.demos = demo_files.load(self.demo_path, self.cell["game"], p)
        self.demo_sha256 = file_sha256(self.demo_path) if self.demos else None
        demo_capacity = len(self.demos.frames) if self.demos and not s["demos_overwritable"] else 0
        agent_capacity = s["replay_capacity"] if s["agent_steps"] > 0 else 0
        frame_shape = (p["screen_size"], p["screen_size"])
        check_fits_in_memory(demo_capacity + agent_capacity, frame_shape)  # memory first: no folder can fix that
        self._check_outputs(demo_capacity, agent_capacity)
        self.env = make_env(self.cell["game"], p, seed)
        self.num_actions = int(self.env.action_space.n)
        self.stacker = FrameStacker(p["frame_stack"])
        self.online = QNetwork(self.num_actions, p["frame_stack"], p["screen_size"], s["dueling"],
                               s["mixed_precision"]).to(self.device, memory_format=torch.channels_last)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=s["learning_rate"], eps=s["adam_eps"], fused=True)
        self.algorithm = ALGORITHMS[self.cell["algorithm"]](s)
        self.replay = PrioritizedReplay(
            demo_capacity=demo_capacity,
            agent_capacity=agent_capacity,
            frame_shape=frame_shape,
            stack=p["frame_stack"],
            n_step=s["n_step"],
            gamma=s["gamma"],
            reward_transform=s["reward_transform"],
            prioritized=s["prioritized"],
            alpha=s["priority_alpha"],
            eps_agent=s["priority_eps_agent"],
            eps_demo=s["priority_eps_demo"],
            rng=self.rng,
        )
        if self.demos:
            d = self.demos
            if s["demos_overwritable"] and len(d.frames) > s["replay_capacity"]:
                raise ConfigError(f"{len(d.frames):,} demonstration frames do not fit replay_capacity="
                                  f"{s['replay_capacity']:,}, which they are to fill; raise replay_capacity")
            self.replay.add_demonstrations(d.frames, d.actions, d.rewards, d.terminals, d.has_action, d.episode_step,
                                           permanent=not s["demos_overwritable"])
        self.total_updates = max(1, planned_updates(s))
        self.log_every = max(1, self.total_updates // LOG_ROWS)
        self.metric_sums: dict[str, torch.Tensor] = {}
        self.metric_count = 0

    def _output_bytes(self, demo_capacity: int, agent_capacity: int) -> tuple[int, int]:
        """Upper estimates, from the replay's partitions and the settings, of one checkpoint and of the final
        weights."""
        s, p = self.settings, self.protocol
        with torch.device("meta"):  # sizes only: nothing is allocated
            network = QNetwork(18, p["frame_stack"], p["screen_size"], s["dueling"])  # 18: the full action set
        weights = sum(tensor.numel() * tensor.element_size() for tensor in network.state_dict().values())
        overwritable = len(self.demos.frames) if self.demos and s["demos_overwritable"] else 0
        # Agent slots a checkpoint can hold: one per agent step and one per episode start, so at most two per step.
        agent_slots = min(agent_capacity, overwritable + 2 * s["agent_steps"] + 1)
        # The replay less the frames a checkpoint leaves out (demonstrations, reloaded from their file; slots the
        # agent never reaches), then both networks and Adam's two moments.
        slots, frame = demo_capacity + agent_capacity, (p["screen_size"], p["screen_size"])
        replay = replay_bytes(slots, frame) - (slots - agent_slots) * frame[0] * frame[1]
        return replay + 4 * weights, weights

    def _check_outputs(self, demo_capacity: int, agent_capacity: int) -> None:
        """Refuse, before anything is allocated or computed, a run folder or checkpoint folder that is a file, cannot
        be written, or lacks the free space for what the run will write there (`SPACE_MARGIN`)."""
        checkpoint, weights = self._output_bytes(demo_capacity, agent_capacity)
        kept = sum(path.stat().st_size for path in self.checkpoints.files())  # a resumed run replaces these
        copies = self.checkpoints.keep + 1
        places = [
            (self.run_dir, "run folder (--out)", SPACE_MARGIN * (weights + TABLES_BYTES),
             "the final weights and tables"),
            (self.checkpoints.directory, "checkpoint folder (--checkpoint-dir)",
             max(0.0, SPACE_MARGIN * copies * checkpoint - kept),
             f"{copies} checkpoints of up to {size_text(checkpoint)} (the newest {copies - 1} kept, one written)"),
        ]
        disks: dict[int, dict] = {}  # folders on one disk share its free space
        for folder, label, need, content in places:
            existing = check_folder(folder, label)
            disk = disks.setdefault(os.stat(existing).st_dev,
                                    {"names": [], "contents": [], "need": 0.0, "at": existing})
            disk["names"].append(f"{label} {folder}")
            disk["contents"].append(content)
            disk["need"] += need
        for disk in disks.values():
            free = shutil.disk_usage(disk["at"]).free
            if disk["need"] > free:
                raise OutputError(
                    f"{' and '.join(disk['names'])} {'need' if len(disk['names']) > 1 else 'needs'} about "
                    f"{size_text(disk['need'])} free for {' and '.join(disk['contents'])}, with a "
                    f"{SPACE_MARGIN - 1:.0%} margin, but {disk['at']} has {size_text(free)} free; free space there "
                    "or choose a disk with more")

    # ---------------------------------------------------------------------------------------------------- updates
    def _update(self, phase: str, agent_step: int) -> None:
        s = self.settings
        beta = s["priority_beta0"] + (1.0 - s["priority_beta0"]) * min(1.0, self.updates / self.total_updates)
        sample = self.replay.sample(s["batch_size"], beta, self.algorithm.demo_share(agent_step))
        if s["learning_rate_decay_steps"] > 0:  # linear decay over agent steps (soft-Q, Table 2)
            fraction = min(1.0, agent_step / s["learning_rate_decay_steps"])
            for group in self.optimizer.param_groups:
                group["lr"] = s["learning_rate"] + (s["learning_rate_final"] - s["learning_rate"]) * fraction
        out = self.gradient_step(self.on_device(sample))
        # Read back only once the whole update is queued, so that on a GPU it runs without the host waiting midway.
        # A non-finite loss has then been stepped on, but the run stops here and no checkpoint is taken after it.
        if not torch.isfinite(out.total):
            raise NonFiniteError(f"non-finite loss {out.total.item()} at update {self.updates} ({phase}, agent step "
                                 f"{agent_step}); lower learning_rate or check the reward transform")
        if out.td_errors is not None and self.replay.prioritized:
            self.replay.update_priorities(sample["indices"], out.td_errors.cpu().numpy())
        self.updates += 1
        if self.updates % s["target_update_period"] == 0:
            self.target.load_state_dict(self.online.state_dict())
        for key, value in out.metrics.items():
            self.metric_sums[key] = self.metric_sums.get(key, 0.0) + value
        self.metric_count += 1
        if self.updates % self.log_every == 0:
            self._log(kind="updates", phase=phase, agent_step=agent_step,
                      **{key: float(value) / self.metric_count for key, value in self.metric_sums.items()})
            self.metric_sums, self.metric_count = {}, 0

    def gradient_step(self, batch: dict[str, torch.Tensor]) -> LossOutput:
        """One optimiser step of the method's loss on a batch already on the device: the update without the replay
        (the speed benchmark times it alone as the method's ceiling)."""
        out = self.algorithm.loss(batch, self.online, self.target)
        self.optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        torch.nn.utils.clip_grad_norm_(self.online.parameters(), self.settings["grad_clip_norm"])
        self.optimizer.step()
        return out

    def on_device(self, sample: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        """The sampled batch as tensors on the device; on CUDA through pinned host memory, so the copies are
        asynchronous (the pinned blocks come from torch's caching host allocator, reused once their copy is done)."""
        tensors = {key: torch.as_tensor(value) for key, value in sample.items() if key != "indices"}
        if self.device.type == "cuda":
            return {key: value.pin_memory().to(self.device, non_blocking=True) for key, value in tensors.items()}
        return tensors

    def _log(self, **row) -> None:
        now = time.monotonic()
        row.update(update=self.updates, wall_s=round(self._elapsed(), 2))
        self.rows.append(row)
        if now - self.last_flush >= PROGRESS_FLUSH_S:  # so a long run can be watched while it learns
            write_csv(self.run_dir / LIVE_PROGRESS, pd.DataFrame(self.rows))
            self.last_flush = now

    # ---------------------------------------------------------------------------------------------------- acting
    def _act(self, state: np.ndarray, epsilon: float, explore: bool = True,
             rng: np.random.Generator | None = None) -> int:
        """ε-greedy; or, for soft Q-learning while learning (explore), a sample from π = softmax(Q/ε). `rng`: the
        generator of the random choices (evaluation has its own, so that it never shifts the training stream)."""
        rng = rng or self.rng
        softmax = explore and self.settings["exploration"] == "softmax"
        if not softmax and rng.random() < epsilon:
            return int(rng.integers(self.num_actions))
        with torch.no_grad():
            scores = self.online.preferences(torch.as_tensor(state, device=self.device).unsqueeze(0))
        if softmax:
            policy = torch.softmax(scores[0].double() / self.settings["entropy_temperature"], dim=0).cpu().numpy()
            return int(rng.choice(self.num_actions, p=policy / policy.sum()))
        return int(scores.argmax(dim=1).item())

    def _epsilon(self, step: int) -> float:
        s = self.settings
        if step >= s["epsilon_decay_steps"]:
            return s["epsilon_final"]
        return s["epsilon_start"] + (s["epsilon_final"] - s["epsilon_start"]) * step / s["epsilon_decay_steps"]

    # ---------------------------------------------------------------------------------------------------- phases
    def _label(self, phase: str) -> str:
        return f"{self.cell['game']}/{self.cell['method']}/seed {self.cell['seed']} {phase}"

    def _pretrain(self) -> None:
        ladder, total = set(self.settings["pretrain_eval_updates"]), self.settings["pretrain_updates"]
        if self.pretrained >= total:
            return
        progress = Progress(total=total, unit="update", label=self._label("pretraining"), initial=self.pretrained)
        while self.pretrained < total:
            self._update("pretrain", agent_step=0)
            self.pretrained += 1
            progress.update(1)
            if self.pretrained in ladder:
                self._evaluate_rung()
            self._maybe_checkpoint()
        progress.close()

    def _evaluate_rung(self) -> None:
        """The transfer study's measurement at one rung of the pretraining ladder: scores and agreement with the
        demonstrator on its own states, and agreement on the demonstration states. A checkpoint follows, so that a
        resumed run never evaluates a rung twice."""
        evaluation = self._evaluate(self.settings["pretrain_eval_episodes"], f"update {self.pretrained}")
        evaluation.insert(0, "update", self.pretrained)
        evaluation["demo_agreement"] = self._demo_agreement()
        self.ladder_rows.extend(evaluation.to_dict("records"))
        self._save_checkpoint()

    def _interact(self) -> None:
        s, env = self.settings, self.env
        if self.step >= s["agent_steps"]:
            return
        progress = Progress(total=s["agent_steps"], unit="agent step", label=self._label("interaction"),
                            initial=self.step)
        if self.episode is None:  # not resumed from a checkpoint taken during this phase
            frame, _ = env.reset(seed=self.cell["seed"])
            self.stacker.reset(frame)
            self.replay.start_episode(frame)
            self.episode = {"index": 0, "return": 0.0, "length": 0, "recent": []}
        episode = self.episode
        while self.step < s["agent_steps"]:
            step = self.step
            epsilon = self._epsilon(step)
            action = self._act(self.stacker.state(), epsilon)
            frame, reward, terminated, truncated, _ = env.step(action)
            self.replay.add_step(action, reward, terminated, frame, terminated or truncated)
            episode["return"] += reward
            episode["length"] += 1
            if terminated or truncated:
                self._log(kind="episode", phase="interact", agent_step=step + 1, episode=episode["index"],
                          episode_return=episode["return"], episode_length=episode["length"], epsilon=epsilon,
                          ended_by="terminal" if terminated else "time_limit")
                episode["recent"] = (episode["recent"] + [episode["return"]])[-10:]
                episode.update({"index": episode["index"] + 1, "return": 0.0, "length": 0})
                frame, _ = env.reset()
                self.stacker.reset(frame)
                self.replay.start_episode(frame)
            else:
                self.stacker.push(frame)
            if step >= s["learning_starts"] and step % s["update_period"] == 0:
                self._update("interact", agent_step=step + 1)
            self.step += 1
            recent = episode["recent"]
            progress.update(1, f"return(last 10) {np.mean(recent):.1f}" if recent else "")
            self._maybe_checkpoint()
        progress.close()

    # ------------------------------------------------------------------------------------------------ checkpoints
    def _fingerprint(self) -> str:
        """What a checkpoint must have been taken under to be resumed: the resolved cell and the demo file."""
        identity = json.dumps({"cell": self.cell, "demos": self.demo_sha256}, sort_keys=True, default=str)
        return hashlib.sha256(identity.encode()).hexdigest()

    def _position(self) -> int:
        return self.pretrained + self.step

    def _maybe_checkpoint(self) -> None:
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_every_s:
            self._save_checkpoint()

    def _save_checkpoint(self) -> None:
        ale, env = self.env.unwrapped.ale, self.env
        state = {
            "fingerprint": self._fingerprint(),
            "counters": {"updates": self.updates, "pretrained": self.pretrained, "step": self.step},
            "elapsed_s": self._elapsed(),
            "online": self.online.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "replay": self.replay.state_dict(),
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None},
            "rows": self.rows,
            "ladder_rows": self.ladder_rows,
            "metrics": {"sums": {key: value.detach().cpu() if torch.is_tensor(value) else value
                                 for key, value in self.metric_sums.items()}, "count": self.metric_count},
            "episode": None,
        }
        if self.episode is not None:  # mid-interaction: the emulator, its no-op generator and the frame stack
            state["episode"] = {
                **self.episode,
                "frames": list(self.stacker.frames),
                "ale": pickle.dumps(ale.cloneState(include_rng=True)),
                "np_random": env.unwrapped.np_random.bit_generator.state,
                "wrapper": {"lives": env.lives, "game_over": env.game_over},
            }
        self.checkpoints.save(self._position(), state)
        self.last_checkpoint = time.monotonic()

    def _resume(self) -> bool:
        state = self.checkpoints.load_latest()
        if state is None:
            return False
        if state["fingerprint"] != self._fingerprint():
            print(f"checkpoints in {self.checkpoints.directory} belong to another config or demo file; "
                  "starting over", file=sys.stderr)
            self.checkpoints.clear()
            return False
        self.updates, self.pretrained, self.step = (state["counters"][key] for key in ("updates", "pretrained", "step"))
        self.elapsed_before = state["elapsed_s"]
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])
        self.rng.bit_generator.state = state["rng"]["numpy"]
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.rows, self.ladder_rows = state["rows"], state["ladder_rows"]
        self.metric_sums = {key: value.to(self.device) if torch.is_tensor(value) else value
                            for key, value in state["metrics"]["sums"].items()}
        self.metric_count = state["metrics"]["count"]
        episode = state["episode"]
        if episode is not None:
            env = self.env
            env.reset(seed=self.cell["seed"])  # initialise the wrappers, then overwrite everything they carry
            env.unwrapped.ale.restoreState(pickle.loads(episode.pop("ale")))
            env.unwrapped.np_random.bit_generator.state = episode.pop("np_random")
            for key, value in episode.pop("wrapper").items():
                setattr(env, key, value)
            self.stacker.frames = episode.pop("frames")
            self.episode = episode
        print(f"resumed from a checkpoint at update {self.updates}, agent step {self.step}", file=sys.stderr)
        return True

    def _elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def _demo_agreement(self) -> float:
        """Share of demonstration states (at most DEMO_AGREEMENT_STATES, evenly spaced) on which the greedy action is
        the demonstrator's: what the network has learnt of the demonstrations, against what carries to its own states."""
        if not self.demos:
            return float("nan")
        slots = np.flatnonzero(self.replay.has_action[: self.replay.demo_capacity])
        if len(slots) > DEMO_AGREEMENT_STATES:
            slots = slots[np.linspace(0, len(slots) - 1, DEMO_AGREEMENT_STATES).astype(np.int64)]
        agreed = 0
        with torch.no_grad():
            for chunk in np.array_split(slots, max(1, len(slots) // AGREEMENT_BATCH)):
                states = torch.as_tensor(self.replay.stacked_states(chunk), device=self.device)
                actions = torch.as_tensor(self.replay.actions[chunk].astype(np.int64), device=self.device)
                agreed += int((self.online.preferences(states).argmax(dim=1) == actions).sum())
        return agreed / len(slots)

    def _evaluate(self, episodes: int, label: str = "evaluation") -> pd.DataFrame:
        s, p = self.settings, self.protocol
        env = make_env(self.cell["game"], p, self.cell["seed"] + EVAL_SEED_OFFSET)
        rng = np.random.default_rng([self.cell["seed"], EVAL_SEED_OFFSET, self.updates])
        stacker = FrameStacker(p["frame_stack"])
        # Where the game has a scripted demonstrator, ask it what it would do in each state the agent reaches: the
        # share of agreement on the agent's own states, against the share on demo states in training, measures how
        # far imitation carries off the demonstrations (covariate shift).
        demonstrator = DEMONSTRATORS.get(self.cell["game"])
        expert = demonstrator.policy(env, self.cell["seed"]) if demonstrator else None
        results = []
        progress = Progress(total=episodes, unit="episode", label=label)
        for episode in range(episodes):
            frame, _ = env.reset(seed=self.cell["seed"] + EVAL_SEED_OFFSET if episode == 0 else None)
            state, score, length, agreed, done = stacker.reset(frame), 0.0, 0, 0, False
            if expert:
                expert.reset()
            while not done:
                action = self._act(state, s["eval_epsilon"], explore=False, rng=rng)
                agreed += bool(expert) and action == expert.act()  # asked before the step: it reads this state
                frame, reward, terminated, truncated, _ = env.step(action)
                state, score, length = stacker.push(frame), score + reward, length + 1
                done = terminated or truncated
            results.append({"episode": episode, "score": score, "length": length,
                            "ended_by": "terminal" if terminated else "time_limit",
                            "expert_agreement": agreed / length if expert else float("nan")})
            progress.update(1, f"score {score:g}")
        progress.close()
        env.close()
        return pd.DataFrame(results)

    # ------------------------------------------------------------------------------------------------------- run
    def run(self) -> dict:
        self.start = self.last_flush = self.last_checkpoint = time.monotonic()
        self._setup()
        self._resume()
        try:
            self.online.train()
            self._pretrain()
            self._interact()
            self._save_checkpoint()  # evaluation is long on some games; a kill during it should not cost the training
            summary = self._write(self._evaluate(self.settings["eval_episodes"]))
        except OutputError as error:  # a write failed after the checks (the disk filled meanwhile)
            kept = self.checkpoints.files()
            raise OutputError(f"{error}; a rerun resumes from {kept[-1]}" if kept else
                              f"{error}; no checkpoint was kept, so a rerun starts over") from error
        self.checkpoints.clear()
        (self.run_dir / LIVE_PROGRESS).unlink(missing_ok=True)
        return summary

    def _write(self, evaluation: pd.DataFrame) -> dict:
        progress = pd.DataFrame(self.rows)
        episodes = progress[progress["kind"] == "episode"] if len(progress) else progress
        demo_info = None
        if self.demos:
            scores = self.demos.episodes["score"]
            demo_info = {
                "file": str(self.demo_path),
                "sha256": self.demo_sha256,
                "source": self.demos.metadata.get("source", SCRIPTED),
                "demonstrator": self.demos.metadata["demonstrator"],
                "epsilon": self.demos.metadata.get("epsilon", 0.0),
                "episodes": len(scores),
                "transitions": self.demos.num_transitions,
                "score_mean": float(scores.mean()),
                "score_best": float(scores.max()),
                "score_worst": float(scores.min()),
            }
        summary = {
            "game": self.cell["game"],
            "method": self.cell["method"],
            "algorithm": self.cell["algorithm"],
            "seed": self.cell["seed"],
            "protocol": self.cell["protocol_name"],
            "frame_skip": self.protocol["frame_skip"],
            "eval_score_mean": float(evaluation["score"].mean()),
            "eval_score_std": float(evaluation["score"].std(ddof=0)),
            "eval_episodes": len(evaluation),
            "eval_expert_agreement": (None if evaluation["expert_agreement"].isna().all()
                                      else float(evaluation["expert_agreement"].mean())),
            "eval_demo_agreement": None if self.demos is None else self._demo_agreement(),
            "interaction_episodes": len(episodes),
            "pretrain_updates": self.settings["pretrain_updates"],
            "agent_steps": self.settings["agent_steps"],
            "demo_phase_end": self.algorithm.demo_phase_end(),
            "updates": self.updates,
            "demos": demo_info,
            "wall_s": round(self._elapsed(), 1),
            "status": "complete",
        }
        config = dict(self.cell, demos=demo_info, threads=self.threads, device=str(self.device))
        write_csv(self.run_dir / "progress.csv", progress)
        write_csv(self.run_dir / "eval.csv", evaluation)
        write_csv(self.run_dir / "pretrain_eval.csv", pd.DataFrame(self.ladder_rows, columns=PRETRAIN_EVAL_COLUMNS))
        atomic_write(self.run_dir / "model.pt", lambda stream: torch.save(self.online.state_dict(), stream))
        write_yaml(self.run_dir / "config.yaml", config)
        write_json(self.run_dir / "provenance.json", provenance(self.cell["seed"], self.device, summary["wall_s"]))
        write_json(self.run_dir / "summary.json", summary)  # last: its presence means the run is complete
        return summary
