"""The one trainer: phase I (updates on demonstrations only), phase II (ε-greedy interaction, one update every
`update_period` agent steps), then a final evaluation. Methods differ only in their loss and their settings."""
from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from . import demos as demo_files
from .config import values
from .envs import FrameStacker, make_env
from .io import write_csv, write_json, write_yaml
from .methods import ALGORITHMS
from .network import QNetwork
from .progress import Progress
from .provenance import provenance
from .replay import PrioritizedReplay

EVAL_SEED_OFFSET = 1_000_000  # evaluation episodes use their own environment seed, never the training one
LOG_ROWS = 200  # loss rows per run in the progress table
PROGRESS_FLUSH_S = 60.0  # the progress table is rewritten this often while a run is going


class NonFiniteError(RuntimeError):
    pass


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Trainer:
    def __init__(self, cell: dict, run_dir: str | Path, demo_path: str | Path | None, threads: int, device: str):
        self.cell, self.run_dir = cell, Path(run_dir)
        self.settings, self.protocol = values(cell["settings"]), values(cell["protocol"])
        self.demo_path, self.threads = demo_path, threads
        self.device = pick_device(device)
        self.rows: list[dict] = []
        self.updates = 0

    # ------------------------------------------------------------------------------------------------------ setup
    def _setup(self) -> None:
        s, p, seed = self.settings, self.protocol, self.cell["seed"]
        torch.set_num_threads(self.threads)
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.demos = None
        if s["use_demos"]:  # checked before anything is allocated
            if self.demo_path is None:
                raise demo_files.DemoFileError(f"method {self.cell['method']!r} uses demonstrations; pass --demos FILE")
            self.demos = demo_files.load(self.demo_path, self.cell["game"], p)
        self.env = make_env(self.cell["game"], p, seed)
        self.num_actions = int(self.env.action_space.n)
        self.online = QNetwork(self.num_actions, p["frame_stack"], p["screen_size"], s["dueling"]).to(
            self.device, memory_format=torch.channels_last)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=s["learning_rate"], eps=s["adam_eps"], fused=True)
        self.algorithm = ALGORITHMS[self.cell["algorithm"]](s)
        self.replay = PrioritizedReplay(
            demo_capacity=len(self.demos.frames) if self.demos else 0,
            agent_capacity=s["replay_capacity"] if s["agent_steps"] > 0 else 0,
            frame_shape=(p["screen_size"], p["screen_size"]),
            stack=p["frame_stack"],
            n_step=s["n_step"],
            gamma=s["gamma"],
            reward_transform=p["reward_transform"],
            prioritized=s["prioritized"],
            alpha=s["priority_alpha"],
            eps_agent=s["priority_eps_agent"],
            eps_demo=s["priority_eps_demo"],
            rng=self.rng,
        )
        if self.demos:
            d = self.demos
            self.replay.add_demonstrations(d.frames, d.actions, d.rewards, d.terminals, d.has_action, d.episode_step)
        interaction_updates = max(0, s["agent_steps"] - s["learning_starts"]) // s["update_period"]
        self.total_updates = max(1, s["pretrain_updates"] + interaction_updates)
        self.log_every = max(1, self.total_updates // LOG_ROWS)
        self.metric_sums: dict[str, torch.Tensor] = {}
        self.metric_count = 0

    # ---------------------------------------------------------------------------------------------------- updates
    def _update(self, phase: str, agent_step: int) -> None:
        s = self.settings
        beta = s["priority_beta0"] + (1.0 - s["priority_beta0"]) * min(1.0, self.updates / self.total_updates)
        sample = self.replay.sample(s["batch_size"], beta)
        batch = {key: torch.as_tensor(value).to(self.device, non_blocking=True)
                 for key, value in sample.items() if key != "indices"}
        out = self.algorithm.loss(batch, self.online, self.target)
        if not torch.isfinite(out.total):
            raise NonFiniteError(f"non-finite loss {out.total.item()} at update {self.updates} ({phase}, agent step "
                                 f"{agent_step}); lower learning_rate or check the reward transform")
        self.optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        torch.nn.utils.clip_grad_norm_(self.online.parameters(), s["grad_clip_norm"])
        self.optimizer.step()
        if out.td_errors is not None:
            self.replay.update_priorities(sample["indices"], out.td_errors)
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

    def _log(self, **row) -> None:
        now = time.monotonic()
        row.update(update=self.updates, wall_s=round(now - self.start, 2))
        self.rows.append(row)
        if now - self.last_flush >= PROGRESS_FLUSH_S:  # so a long run can be watched while it learns
            write_csv(self.run_dir / "progress.csv", pd.DataFrame(self.rows))
            self.last_flush = now

    # ---------------------------------------------------------------------------------------------------- acting
    def _act(self, state: np.ndarray, epsilon: float) -> int:
        if self.rng.random() < epsilon:
            return int(self.rng.integers(self.num_actions))
        with torch.no_grad():
            q = self.online(torch.as_tensor(state, device=self.device).unsqueeze(0))
        return int(q.argmax(dim=1).item())

    def _epsilon(self, step: int) -> float:
        s = self.settings
        if step >= s["epsilon_decay_steps"]:
            return s["epsilon_final"]
        return s["epsilon_start"] + (s["epsilon_final"] - s["epsilon_start"]) * step / s["epsilon_decay_steps"]

    # ---------------------------------------------------------------------------------------------------- phases
    def _pretrain(self, progress: Progress) -> None:
        for _ in range(self.settings["pretrain_updates"]):
            self._update("pretrain", agent_step=0)
            progress.update(1)

    def _interact(self, progress: Progress) -> None:
        s, env = self.settings, self.env
        if s["agent_steps"] == 0:
            return
        stacker = FrameStacker(self.protocol["frame_stack"])
        frame, _ = env.reset(seed=self.cell["seed"])
        state = stacker.reset(frame)
        self.replay.start_episode(frame)
        episode, episode_return, episode_length, recent = 0, 0.0, 0, []
        for step in range(s["agent_steps"]):
            epsilon = self._epsilon(step)
            action = self._act(state, epsilon)
            frame, reward, terminated, truncated, _ = env.step(action)
            self.replay.add_step(action, reward, terminated, frame, terminated or truncated)
            episode_return += reward
            episode_length += 1
            if terminated or truncated:
                self._log(kind="episode", phase="interact", agent_step=step + 1, episode=episode,
                          episode_return=episode_return, episode_length=episode_length, epsilon=epsilon,
                          ended_by="terminal" if terminated else "time_limit")
                recent = (recent + [episode_return])[-10:]
                episode, episode_return, episode_length = episode + 1, 0.0, 0
                frame, _ = env.reset()
                state = stacker.reset(frame)
                self.replay.start_episode(frame)
            else:
                state = stacker.push(frame)
            if step >= s["learning_starts"] and step % s["update_period"] == 0:
                self._update("interact", agent_step=step + 1)
            progress.update(1, f"return(last 10) {np.mean(recent):.1f}" if recent else "")

    def _evaluate(self) -> pd.DataFrame:
        s, p = self.settings, self.protocol
        env = make_env(self.cell["game"], p, self.cell["seed"] + EVAL_SEED_OFFSET)
        stacker = FrameStacker(p["frame_stack"])
        results = []
        progress = Progress(total=s["eval_episodes"], unit="episode", label="evaluation")
        for episode in range(s["eval_episodes"]):
            frame, _ = env.reset(seed=self.cell["seed"] + EVAL_SEED_OFFSET if episode == 0 else None)
            state, score, length, done = stacker.reset(frame), 0.0, 0, False
            while not done:
                frame, reward, terminated, truncated, _ = env.step(self._act(state, s["eval_epsilon"]))
                state, score, length = stacker.push(frame), score + reward, length + 1
                done = terminated or truncated
            results.append({"episode": episode, "score": score, "length": length,
                            "ended_by": "terminal" if terminated else "time_limit"})
            progress.update(1, f"score {score:g}")
        progress.close()
        env.close()
        return pd.DataFrame(results)

    # ------------------------------------------------------------------------------------------------------- run
    def run(self) -> dict:
        self.start = self.last_flush = time.monotonic()
        self._setup()
        s = self.settings
        label = f"{self.cell['game']}/{self.cell['method']}/seed {self.cell['seed']}"
        progress = Progress(total=s["pretrain_updates"] + s["agent_steps"], unit="step", label=label)
        self.online.train()
        self._pretrain(progress)
        self._interact(progress)
        progress.close()
        evaluation = self._evaluate()
        return self._write(evaluation)

    def _write(self, evaluation: pd.DataFrame) -> dict:
        progress = pd.DataFrame(self.rows)
        episodes = progress[progress["kind"] == "episode"] if len(progress) else progress
        demo_info = None
        if self.demos:
            scores = self.demos.episodes["score"]
            demo_info = {
                "file": str(self.demo_path),
                "sha256": hashlib.sha256(Path(self.demo_path).read_bytes()).hexdigest(),
                "demonstrator": self.demos.metadata["demonstrator"],
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
            "interaction_episodes": len(episodes),
            "pretrain_updates": self.settings["pretrain_updates"],
            "agent_steps": self.settings["agent_steps"],
            "updates": self.updates,
            "demos": demo_info,
            "wall_s": round(time.monotonic() - self.start, 1),
            "status": "complete",
        }
        config = dict(self.cell, demos=demo_info, threads=self.threads, device=str(self.device))
        write_csv(self.run_dir / "progress.csv", progress)
        write_csv(self.run_dir / "eval.csv", evaluation)
        write_yaml(self.run_dir / "config.yaml", config)
        write_json(self.run_dir / "provenance.json", provenance(self.cell["seed"], self.device, summary["wall_s"]))
        write_json(self.run_dir / "summary.json", summary)  # last: its presence means the run is complete
        return summary
