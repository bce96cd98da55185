"""A run of one cell (Dopamine's runner): phase I, updates on the demonstrations only, evaluated along the way at the
pretraining ladder's rungs; phase II, interaction, with the updates the algorithm's schedule sets (one every
`update_period` agent steps; DAgger's after each iteration), the greedy policy evaluated every `interaction_eval_every`
agent steps; then a final evaluation and the run's records. The learner
(agents/learner.py) learns; the run owns the emulator and its episode, checkpoints, evaluation and outputs.

Everything the rest of a run depends on (the learner's state, counters, the current episode, the emulator's state and
every random generator) is checkpointed every few minutes, so a killed run resumes where its last checkpoint stopped
and ends exactly where an uninterrupted run ends.
"""
from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from . import numerics
from .cell import values
from .checkpoint import Checkpoints, describe
from .demos import files as demo_files
from .demos.scripted import DEMONSTRATORS
from .envs import FrameStacker, emulator_state, make_env, restore_emulator
from .errors import ConfigError, OutputError
from .evaluation import EVAL_COLUMNS, EVAL_SEED_OFFSET, demo_agreement, distinct_starts, evaluate, start_variety
from .io import atomic_write, relative_path, write_csv, write_json, write_yaml
from .learner import Learner, pick_device
from .matrix import SCRIPTED
from .progress import Progress
from .provenance import provenance
from .replay import check_fits_in_memory
from .rules import planned_updates
from .settings import Settings
from .space import check_space, output_bytes

# Part of a checkpoint's fingerprint: one written by an older layout is never loaded. 4: the replay of a method whose
# loss reads no n-step return waits one agent step for a transition, not n_step.
CHECKPOINT_FORMAT = 4
LOG_ROWS = 200  # loss rows per run in the progress table
PROGRESS_FLUSH_S = 60.0  # the live progress table is rewritten this often while a run is going
LIVE_PROGRESS = "progress.live.csv"  # not a declared output: the workflow never mistakes it for a finished run
PRETRAIN_EVAL_COLUMNS = ["update", *EVAL_COLUMNS, "demo_agreement"]
INTERACTION_EVAL_COLUMNS = ["agent_step", "update", *EVAL_COLUMNS]  # interaction_eval.csv
LABEL_STREAM = 2_000_000  # with the cell's seed, the generator of the labelling demonstrator's own draws (DAgger)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_enough_transitions(demos, path, settings: Settings, method: str) -> None:
    """Refuse demonstrations a method cannot learn from: none at all, or fewer than one batch where pretraining
    samples its batches from the demonstrations alone (every batch would repeat the same few)."""
    transitions, batch = demos.num_transitions, settings.batch_size
    if transitions == 0:
        raise demo_files.DemoFileError(f"demo file {path} holds no transition (its episodes end at their first "
                                       "frame); record demonstrations that play")
    if settings.pretrain_updates > 0 and transitions < batch:
        raise demo_files.DemoFileError(f"demo file {path} holds {transitions} transition"
                                       f"{'' if transitions == 1 else 's'}, fewer than one batch "
                                       f"(batch_size={batch}) of method {method!r}, which pretrains on them alone: "
                                       "every batch would repeat them; record more demonstrations or lower "
                                       "batch_size")


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


class Means:
    """The update metrics' means between two rows of the progress table; the sums stay on the device until read, so
    that a GPU is not waited for after every update."""

    def __init__(self):
        self.sums: dict = {}
        self.count = 0

    def add(self, metrics: dict) -> None:
        for key, value in metrics.items():
            self.sums[key] = self.sums.get(key, 0.0) + value
        self.count += 1

    def take(self) -> dict[str, float]:
        means = {key: float(value) / self.count for key, value in self.sums.items()}
        self.sums, self.count = {}, 0
        return means

    def state_dict(self) -> dict:
        return {"sums": {key: value.detach().cpu() if torch.is_tensor(value) else value
                         for key, value in self.sums.items()}, "count": self.count}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.sums = {key: value.to(device) if torch.is_tensor(value) else value for key, value in state["sums"].items()}
        self.count = state["count"]


class Run:
    def __init__(self, cell: dict, run_dir: str | Path, demo_path: str | Path | None, threads: int, device: str,
                 checkpoint_dir: str | Path | None = None, checkpoint_every_s: float = 600.0,
                 tensorboard: str | Path | None = None):
        """`tensorboard`: the folder under which the run writes its TensorBoard scalars (agents/board.py), or None."""
        self.cell, self.run_dir = cell, Path(run_dir)
        self.settings, self.protocol = Settings.of(cell["settings"]), values(cell["protocol"])
        self.demo_path, self.threads = demo_path, threads
        self.device = pick_device(device, self.settings.numerics)
        checkpoint_dir = Path(checkpoint_dir or self.run_dir / "checkpoints")
        self.checkpoints = Checkpoints(checkpoint_dir, root=checkpoint_root(checkpoint_dir, self.run_dir))
        self.checkpoint_every_s = checkpoint_every_s
        self.rows: list[dict] = []  # the progress table: update metrics and interaction episodes
        self.ladder_rows: list[dict] = []  # evaluations during pretraining (pretrain_eval_updates)
        self.interaction_eval_rows: list[dict] = []  # evaluations during interaction (interaction_eval_every)
        self.metrics = Means()  # of the updates since the last progress row
        self.pretrained = 0  # updates of phase I
        self.step = 0  # agent steps of phase II
        self.episode: dict | None = None  # the interaction episode in progress
        self.elapsed_before = 0.0  # wall time spent by earlier processes of a resumed run
        # CPU time of this run's processes, all their threads: the core-seconds a cost check counts, which a paused or
        # shared machine leaves alone where it stretches the wall time. NaN once a run resumes from a checkpoint
        # written before it was kept.
        self.cpu_before = 0.0
        self.resumed = False  # from a checkpoint of this cell
        self.tensorboard, self.board = tensorboard, None  # the Board once the run knows whether it resumed
        self.start = self.last_flush = self.last_checkpoint = time.monotonic()
        self.cpu_start = time.process_time()

    def prepare(self) -> None:
        """Load and check the demonstrations, refuse a run that cannot fit in memory or on disk or whose folders hold
        another cell's records or checkpoints, then build the emulator and the learner, with the demonstrations in
        its replay."""
        s, p, seed = self.settings, self.protocol, self.cell["seed"]
        torch.set_num_threads(self.threads)
        self.numerics = numerics.check(s.numerics, self.threads, self.device)  # before any compute
        keep_freed_memory()
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.demos = None
        if not s.use_demos and self.demo_path is not None:
            raise ConfigError(f"method {self.cell['method']!r} learns without demonstrations, so --demos "
                              f"{self.demo_path} would be ignored; drop --demos, or name a method that uses them")
        if s.use_demos:  # checked before anything is allocated
            if self.demo_path is None:
                raise demo_files.DemoFileError(f"method {self.cell['method']!r} uses demonstrations; pass --demos FILE")
            self.demos = demo_files.load(self.demo_path, self.cell["game"], p)
            check_enough_transitions(self.demos, self.demo_path, s, self.cell["method"])
            if s.demos_overwritable and len(self.demos.frames) > s.replay_capacity:
                raise ConfigError(f"{len(self.demos.frames):,} demonstration frames do not fit replay_capacity="
                                  f"{s.replay_capacity:,}, which they are to fill; raise replay_capacity")
        self.demo_sha256 = file_sha256(self.demo_path) if self.demos else None
        self.demo_content_sha256 = demo_files.content_sha256(self.demos) if self.demos else None
        self._check_run_folder()
        demo_frames = len(self.demos.frames) if self.demos else 0
        demo_capacity = 0 if s.demos_overwritable else demo_frames
        agent_capacity = s.replay_capacity if s.agent_steps > 0 else 0
        check_fits_in_memory(demo_capacity + agent_capacity, (p["screen_size"], p["screen_size"]))  # memory first
        overwritable = demo_frames if s.demos_overwritable else 0
        check_space(self.run_dir, self.checkpoints, *output_bytes(s, p, overwritable, demo_capacity, agent_capacity))
        self.checkpoints.claim(self._owner())  # the last check: from here on the folder is this run's
        self.env = make_env(self.cell["game"], p, seed)
        self.stacker = FrameStacker(p["frame_stack"])
        self.learner = Learner(self.cell["algorithm"], s, p, int(self.env.action_space.n), self.device, self.rng,
                               demo_capacity, agent_capacity, planned_updates(s, self.cell["algorithm"]))
        # DAgger asks the game's demonstrator for its action in every state the agent reaches, as the expert-agreement
        # metric does (agents/evaluation.py), stepping it along the agent's own trajectory.
        self.expert = (DEMONSTRATORS[self.cell["game"]].policy(self.env, [seed, LABEL_STREAM])
                       if self.learner.algorithm.queries_expert else None)
        if self.demos:
            d = self.demos
            self.learner.add_demonstrations(d.frames, d.actions, d.rewards, d.terminals, d.has_action, d.episode_step,
                                            permanent=not s.demos_overwritable)
        self.log_every = max(1, self.learner.total_updates // LOG_ROWS)

    def _check_run_folder(self) -> None:
        """Refuse a run folder that holds the records of another cell (another game, method, seed, demonstrations or
        settings): this run would replace them."""
        records = next((path for path in (self.run_dir / "config.yaml", self.run_dir / "summary.json")
                        if path.is_file()), None)
        if records is None:
            return
        try:
            recorded = yaml.safe_load(records.read_text())  # JSON is YAML too
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            recorded = None
        if not isinstance(recorded, dict):
            raise OutputError(f"run folder {self.run_dir} holds a {records.name} that is no run's record; give this "
                              "run a folder of its own (--out), or move that file away")
        cell = {"game": self.cell["game"], "method": self.cell["method"], "seed": self.cell["seed"]}
        differences = [f"{key} {recorded.get(key)}" for key, value in cell.items() if recorded.get(key) != value]
        if (recorded.get("demos") or {}).get("content_sha256") != self.demo_content_sha256:
            differences.append("other demonstrations" if recorded.get("demos") else "no demonstrations")
        for section in ("settings", "protocol"):
            stored = {key: entry.get("value") for key, entry in (recorded.get(section) or {}).items()
                      if isinstance(entry, dict)}
            differences += [f"{key}={stored[key]!r}" for key, value in values(self.cell[section]).items()
                            if key in stored and stored[key] != value]
        if differences:
            raise OutputError(f"run folder {self.run_dir} holds the records of another run ({', '.join(differences)})"
                              f", which this run ({describe(self._owner())}) would replace; give it a folder of its "
                              "own (--out), or move those records away first")

    def _owner(self) -> dict:
        """The cell as its checkpoint folder records it: a folder's checkpoints belong to one cell."""
        demos = Path(self.demo_path).name if self.demo_path is not None else None
        return {"game": self.cell["game"], "method": self.cell["method"], "seed": self.cell["seed"], "demos": demos}

    # ---------------------------------------------------------------------------------------------------- phases
    def _label(self, phase: str) -> str:
        return f"{self.cell['game']}/{self.cell['method']}/seed {self.cell['seed']} {phase}"

    def _pretrain(self) -> None:
        ladder, total = set(self.settings.pretrain_eval_updates), self.settings.pretrain_updates
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
        evaluation = self.evaluate(self.settings.pretrain_eval_episodes, f"update {self.pretrained}")
        evaluation.insert(0, "update", self.pretrained)
        evaluation["demo_agreement"] = demo_agreement(self.learner)
        self.ladder_rows.extend(evaluation.to_dict("records"))
        if self.board:
            self.board.evaluation("pretrain_eval", evaluation, self.pretrained, evaluation["demo_agreement"].iloc[0])
        self._save_checkpoint()

    def _evaluate_interaction(self) -> None:
        """The greedy policy (ε = eval_epsilon) after `self.step` agent steps, on the evaluation's own emulator and
        generators, so the training stream is untouched. A checkpoint follows, so that a resumed run never evaluates
        an agent step twice."""
        evaluation = self.evaluate(self.settings.interaction_eval_episodes, f"agent step {self.step}")
        evaluation.insert(0, "agent_step", self.step)
        evaluation.insert(1, "update", self.learner.updates)
        self.interaction_eval_rows.extend(evaluation.to_dict("records"))
        if self.board:
            self.board.evaluation("interaction_eval", evaluation, self.step)
        self._save_checkpoint()

    def _interact(self) -> None:
        s, env = self.settings, self.env
        if self.step >= s.agent_steps:
            return
        progress = Progress(total=s.agent_steps, unit="agent step", label=self._label("interaction"),
                            initial=self.step)
        self.learner.begin_interaction()
        if self.episode is None:  # not resumed from a checkpoint taken during this phase
            frame, _ = env.reset(seed=self.cell["seed"])
            self._start_episode(frame)
            self.episode = {"index": 0, "return": 0.0, "length": 0, "recent": []}
        episode = self.episode
        while self.step < s.agent_steps:
            step = self.step
            action, stored = self._choose_action(step)
            frame, reward, terminated, truncated, _ = env.step(action)
            self.learner.observe(stored, reward, terminated, frame)
            episode["return"] += reward
            episode["length"] += 1
            if terminated or truncated:
                self.learner.end_episode()
                self._log(kind="episode", phase="interact", agent_step=step + 1, episode=episode["index"],
                          episode_return=episode["return"], episode_length=episode["length"],
                          epsilon=self.learner.epsilon(step), ended_by="terminal" if terminated else "time_limit")
                episode["recent"] = (episode["recent"] + [episode["return"]])[-10:]
                episode.update({"index": episode["index"] + 1, "return": 0.0, "length": 0})
                frame, _ = env.reset()
                self._start_episode(frame)
            else:
                self.stacker.push(frame)
            for _ in range(self.learner.updates_after(step)):
                self._update("interact", agent_step=step + 1)
            self.step += 1
            recent = episode["recent"]
            progress.update(1, f"return(last 10) {np.mean(recent):.1f}" if recent else "")
            if s.interaction_eval_every and self.step % s.interaction_eval_every == 0:
                self._evaluate_interaction()
            self._maybe_checkpoint()
        progress.close()

    def _start_episode(self, frame) -> None:
        self.stacker.reset(frame)
        self.learner.begin_episode(frame)
        if self.expert is not None:
            self.expert.reset()

    def _choose_action(self, step: int) -> tuple[int, int]:
        """The action played at agent step `step` and the action the learner observes with its state: the method's own
        behaviour, both the same; or, for a method that queries the expert (DAgger), the demonstrator's label of the
        state, stored whoever acts, and played when the demonstrator acts (β_i), the learner's action otherwise.

        The demonstrator is asked in every state, before the step, so that one that keeps a memory (Pong's last paddle
        position, MsPacman's direction, step count and random turns) follows the trajectory the agent plays."""
        if self.expert is None:
            action = int(self.learner.act(self.stacker.state()[None], step)[0])
            return action, action
        label = self.expert.act()
        if self.learner.expert_acts(step):
            return label, label
        return int(self.learner.act(self.stacker.state()[None], step)[0]), label

    def _update(self, phase: str, agent_step: int) -> None:
        """One update of the learner; every `log_every` updates a progress row with the metrics' means since the
        last."""
        self.metrics.add(self.learner.update(agent_step))
        if self.learner.updates % self.log_every == 0:
            self._log(kind="updates", phase=phase, agent_step=agent_step, **self.metrics.take())

    def _open_board(self) -> None:
        """Start writing TensorBoard scalars (agents/board.py), first those of what a resumed run has recorded so far
        that its event files do not hold yet (a kill loses the writer's last unflushed events; a run started without
        --tensorboard has none): every step of the run appears once."""
        from .board import Board, run_tag

        tag = run_tag(self.cell["game"], self.cell["method"], self.demo_path, self.cell["seed"])
        self.board = Board(self.tensorboard, tag, self.resumed)
        for row in self.rows:
            self._board_row(row)
        for rows, name, step in ((self.ladder_rows, "pretrain_eval", "update"),
                                 (self.interaction_eval_rows, "interaction_eval", "agent_step")):
            for at, evaluation in pd.DataFrame(rows).groupby(step) if rows else ():
                agreement = evaluation["demo_agreement"].iloc[0] if "demo_agreement" in evaluation else None
                self.board.evaluation(name, evaluation, int(at), agreement)

    def _board_row(self, row: dict) -> None:
        """A progress row as TensorBoard scalars, with the exploration ε of its agent step during interaction."""
        interacting = row["kind"] == "updates" and row["phase"] == "interact"
        self.board.progress_row(row, self.learner.epsilon(row["agent_step"] - 1) if interacting else None)

    def _log(self, **row) -> None:
        now = time.monotonic()
        row.update(update=self.learner.updates, wall_s=round(self._elapsed(), 2))
        self.rows.append(row)
        if self.board:
            self._board_row(row)
        if now - self.last_flush >= PROGRESS_FLUSH_S:  # so a long run can be watched while it learns
            write_csv(self.run_dir / LIVE_PROGRESS, pd.DataFrame(self.rows))
            self.last_flush = now

    def evaluate(self, episodes: int, label: str = "evaluation") -> pd.DataFrame:
        """`episodes` evaluation episodes of the greedy policy (ε = eval_epsilon): its random actions from a generator
        seeded by the cell's seed and the update count, the episodes' no-op starts from one seeded by the cell's seed
        alone (agents/evaluation.py)."""
        seed, epsilon = self.cell["seed"], self.settings.eval_epsilon
        rng = np.random.default_rng([seed, EVAL_SEED_OFFSET, self.learner.updates])
        return evaluate(lambda state: int(self.learner.act_greedy(state[None], epsilon, rng)[0]),
                        self.cell["game"], self.protocol, seed, episodes, label)

    # ------------------------------------------------------------------------------------------------ checkpoints
    def _fingerprint(self) -> str:
        """What a checkpoint must have been taken under to be resumed: the resolved cell, the demonstrations (their
        content: a demo set recorded again the same way resumes) and the checkpoint layout."""
        identity = json.dumps({"cell": self.cell, "demos": self.demo_content_sha256, "format": CHECKPOINT_FORMAT},
                              sort_keys=True, default=str)
        return hashlib.sha256(identity.encode()).hexdigest()

    def _maybe_checkpoint(self) -> None:
        if time.monotonic() - self.last_checkpoint >= self.checkpoint_every_s:
            self._save_checkpoint()

    def _save_checkpoint(self) -> None:
        state = {
            "fingerprint": self._fingerprint(),
            "learner": self.learner.state_dict(),
            "counters": {"pretrained": self.pretrained, "step": self.step},
            "elapsed_s": self._elapsed(),
            "cpu_s": self._cpu(),
            "rng": {"numpy": self.rng.bit_generator.state, "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None},
            "rows": self.rows,
            "ladder_rows": self.ladder_rows,
            "interaction_eval_rows": self.interaction_eval_rows,
            "metrics": self.metrics.state_dict(),
            "expert": None if self.expert is None else self.expert.state_dict(),  # its memory and generator (DAgger)
            "episode": None if self.episode is None else  # mid-interaction: the emulator and the frame stack
            {**self.episode, "frames": list(self.stacker.frames), "emulator": emulator_state(self.env)},
        }
        self.checkpoints.save(self.pretrained + self.step, state)
        self.last_checkpoint = time.monotonic()

    def _resume(self) -> None:
        state = self.checkpoints.load_latest()
        if state is None:
            return
        if state["fingerprint"] != self._fingerprint():
            print(f"checkpoints in {self.checkpoints.directory} belong to another config, demo file or checkpoint "
                  "layout; starting over", file=sys.stderr)
            self.checkpoints.discard()
            return
        self.learner.load_state_dict(state["learner"])
        self.resumed = True
        self.pretrained, self.step = state["counters"]["pretrained"], state["counters"]["step"]
        self.elapsed_before = state["elapsed_s"]
        self.cpu_before = state.get("cpu_s", math.nan)
        self.rng.bit_generator.state = state["rng"]["numpy"]
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.rows, self.ladder_rows = state["rows"], state["ladder_rows"]
        self.interaction_eval_rows = state["interaction_eval_rows"]
        self.metrics.load_state_dict(state["metrics"], self.device)
        if self.expert is not None:
            self.expert.load_state_dict(state["expert"])
        episode = state["episode"]
        if episode is not None:
            restore_emulator(self.env, episode.pop("emulator"), self.cell["seed"])
            self.stacker.frames = episode.pop("frames")
            self.episode = episode
        print(f"resumed from a checkpoint at update {self.learner.updates}, agent step {self.step}", file=sys.stderr)

    def _elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def _cpu(self) -> float:
        return self.cpu_before + time.process_time() - self.cpu_start

    # ------------------------------------------------------------------------------------------------------- run
    def execute(self) -> dict:
        """Prepare, resume from the newest checkpoint if there is one, train, evaluate and write the records;
        returns the summary."""
        try:
            self.prepare()
            self._resume()
            if self.tensorboard is not None:
                self._open_board()
            try:
                self._pretrain()
                self._interact()
                self._save_checkpoint()  # evaluation is long on some games: a kill during it keeps the training
                summary = self._write(self.evaluate(self.settings.eval_episodes))
            except OutputError as error:  # a write failed after the checks (the disk filled meanwhile)
                kept = self.checkpoints.files()
                raise OutputError(f"{error}; a rerun resumes from {kept[-1]}" if kept else
                                  f"{error}; no checkpoint was kept, so a rerun starts over") from error
            self.checkpoints.clear()
        finally:
            if self.board:
                self.board.close()
            self.checkpoints.release()
        (self.run_dir / LIVE_PROGRESS).unlink(missing_ok=True)
        return summary

    def _write(self, evaluation: pd.DataFrame) -> dict:
        progress = pd.DataFrame(self.rows)
        demo_info = None if self.demos is None else demo_record(self.demos, self.demo_path, self.demo_sha256,
                                                                self.demo_content_sha256, self.run_dir)
        summary = summarise(self.cell, self.protocol, evaluation, progress, self.learner, demo_info)
        cpu = self._cpu()
        summary.update(wall_s=round(self._elapsed(), 1), cpu_s=None if math.isnan(cpu) else round(cpu, 1),
                       status="complete")
        if self.board:
            self.board.evaluation("final_eval", evaluation, self.learner.updates, summary["eval_demo_agreement"],
                                  std=True)
        config = dict(self.cell, demos=demo_info, threads=self.threads, device=str(self.device))
        write_csv(self.run_dir / "progress.csv", progress)
        write_csv(self.run_dir / "eval.csv", evaluation)
        write_csv(self.run_dir / "pretrain_eval.csv", pd.DataFrame(self.ladder_rows, columns=PRETRAIN_EVAL_COLUMNS))
        write_csv(self.run_dir / "interaction_eval.csv",
                  pd.DataFrame(self.interaction_eval_rows, columns=INTERACTION_EVAL_COLUMNS))
        atomic_write(self.run_dir / "model.pt", lambda stream: torch.save(self.learner.online.state_dict(), stream))
        write_yaml(self.run_dir / "config.yaml", config)
        write_json(self.run_dir / "provenance.json", provenance(self.cell["seed"], self.device, summary["wall_s"],
                                                                  self.learner.compiled, self.learner.bfloat16,
                                                                  self.numerics))
        write_json(self.run_dir / "summary.json", summary)  # last: its presence means the run is complete
        return summary


def summarise(cell: dict, protocol: dict, evaluation: pd.DataFrame, progress: pd.DataFrame, learner: Learner,
              demo_info: dict | None) -> dict:
    """A finished run in one record (summary.json): its cell, its final evaluation, what it did."""
    agreement = None if demo_info is None else demo_agreement(learner)
    settings = Settings.of(cell["settings"])
    return {
        "game": cell["game"],
        "method": cell["method"],
        "algorithm": cell["algorithm"],
        "seed": cell["seed"],
        "protocol": cell["protocol_name"],
        "frame_skip": protocol["frame_skip"],
        "eval_score_mean": float(evaluation["score"].mean()),
        "eval_score_std": float(evaluation["score"].std(ddof=0)),
        "eval_episodes": len(evaluation),
        "eval_distinct_starts": distinct_starts(protocol, evaluation),
        "eval_starts": start_variety(protocol, evaluation),
        "eval_time_limit_episodes": int((evaluation["ended_by"] == "time_limit").sum()),
        "eval_expert_agreement": (None if evaluation["expert_agreement"].isna().all()
                                  else float(evaluation["expert_agreement"].mean())),
        "eval_demo_agreement": None if agreement is None or math.isnan(agreement) else agreement,
        "interaction_episodes": int((progress["kind"] == "episode").sum()) if len(progress) else 0,
        "pretrain_updates": settings.pretrain_updates,
        "agent_steps": settings.agent_steps,
        "demo_phase_end": learner.algorithm.demo_phase_end(),
        "updates": learner.updates,
        "demos": demo_info,
    }


def demo_record(demos, path, sha256: str, content_sha256: str, run_dir: str | Path) -> dict:
    """What a run's records say of its demonstrations: the file (relative to the run folder `run_dir`) and its
    checksum, the checksum of its content (equal for two recordings of the same demonstrations), where they came from
    and their scores."""
    scores = demos.episodes["score"]
    return {
        "file": relative_path(path, run_dir),
        "sha256": sha256,
        "content_sha256": content_sha256,
        "source": demos.metadata.get("source", SCRIPTED),
        "demonstrator": demos.metadata["demonstrator"],
        "noise": demos.metadata.get("noise", 0.0),
        "episodes": len(scores),
        "transitions": demos.num_transitions,
        "score_mean": float(scores.mean()),
        "score_best": float(scores.max()),
        "score_worst": float(scores.min()),
    }
