"""Live metrics for TensorBoard: `python -m agents train --tensorboard DIR` (the workflow's `tensorboard: true` gives
DIR = <results_dir>/tensorboard) writes a run's scalars as it trains, under DIR/<game>/<method>/<demo set>/seed_<N>,
the run's tag, so that `tensorboard --logdir DIR` shows every cell of a matrix side by side. Off by default, and then
free: nothing of TensorBoard is imported. The event files are written by torch's SummaryWriter and need the
`tensorboard` package (pip install -e ".[tensorboard]"), which also serves them.

The scalars, by the step they are plotted against:

- `train/<metric>` (update): the progress table's update metrics, each the mean over the updates since its last row
  (progress.csv): `loss` and its terms (`loss_1_step`, `loss_n_step`, `loss_supervised`, `loss_l2`, …), `q_mean` (the
  mean Q of the actions in the batch), `demo_fraction` (the share of demonstrations in the batch: the demo share),
  `demo_accuracy` where the method has it; and during interaction `train/epsilon`, the exploration ε at that row;
- `episode/return`, `episode/length`, `episode/epsilon` (agent step): each interaction episode as it ends;
- `pretrain_eval/score`, `pretrain_eval/expert_agreement`, `pretrain_eval/demo_agreement` (update): the evaluations at
  the pretraining ladder's rungs (pretrain_eval.csv; score and agreement are means over the rung's episodes);
- `interaction_eval/score`, `interaction_eval/expert_agreement` (agent step): the greedy evaluations along interaction
  (interaction_eval.csv);
- `final_eval/score`, `final_eval/score_std`, `final_eval/expert_agreement`, `final_eval/demo_agreement` (update: the
  run's last): the final evaluation (eval.csv, summary.json).

An agreement the game cannot measure (no scripted demonstrator) is not written.

A killed run that resumes from its checkpoint continues its scalars without writing a step twice: it reads the steps
its folder's event files already hold, tag by tag, and writes only later ones. It first writes those of the rows its
checkpoint holds that the files lack (the writer's last events, unflushed when the kill came, or all of them for a run
started without --tensorboard), then trains on; the steps it trains again are those the killed process wrote after its
checkpoint, with the same values (a resumed run ends where an uninterrupted one ends). Its new event file sits beside
the old ones, which TensorBoard reads as one run; a record the kill cut short at the end of an old file is skipped by
TensorBoard's reader, here and there. A run that starts over (no checkpoint to resume) first removes the event files
of its folder: they belong to the attempt it replaces, as its other records do.
"""
from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path

ENVIRONMENT = "AGENTS_TENSORBOARD"  # the workflow's way to pass --tensorboard without changing the train rule's command
INSTALL = 'pip install -e ".[tensorboard]"'
EVENT_FILES = "events.out.tfevents.*"
FLUSH_S = 30  # the writer's queue goes to disk at least this often, so TensorBoard shows a run as it trains


def missing() -> bool:
    """Whether the tensorboard package is absent (asked without importing it, or torch)."""
    return importlib.util.find_spec("tensorboard") is None


def require(given: str) -> None:
    """Refuse `given` (how TensorBoard was asked for: --tensorboard DIR, tensorboard: true) in one line where the
    package is missing, before anything is computed."""
    from .errors import ConfigError

    if missing():
        raise ConfigError(f"{given}: writing TensorBoard event files needs the tensorboard extra, which is not "
                          f"installed; {INSTALL}")


def run_tag(game: str, method: str, demo_path, seed: int) -> str:
    """The run's tag and folder under DIR: <game>/<method>/<demo set>/seed_<N>, the demo set named by its file as
    the workflow names it (<results>/demos/<game>/<set>.npz), `none` without demonstrations."""
    from .matrix import NO_DEMOS

    demos = Path(demo_path).stem if demo_path is not None else NO_DEMOS
    return f"{game}/{method}/{demos}/seed_{seed}"


def written_steps(folder: Path) -> dict[str, int]:
    """The last step of each scalar tag in the event files of `folder` (a record cut short at a file's end is
    skipped, as TensorBoard skips it)."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    last: dict[str, int] = {}
    for path in sorted(folder.glob(EVENT_FILES)):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                last[value.tag] = max(last.get(value.tag, event.step), event.step)
    return last


def number(value) -> float | None:
    """A metric as a float, or None where there is nothing to plot (missing, not a number)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class Board:
    """One run's TensorBoard writer; made once the run knows whether it resumed."""

    def __init__(self, root: str | Path, tag: str, resumed: bool):
        from torch.utils.tensorboard import SummaryWriter

        self.folder = Path(root) / tag
        self.written: dict[str, int] = {}
        if resumed and self.folder.is_dir():
            self.written = written_steps(self.folder)
        elif self.folder.is_dir():
            for path in self.folder.glob(EVENT_FILES):
                os.remove(path)
        self.writer = SummaryWriter(str(self.folder), flush_secs=FLUSH_S)

    def scalar(self, tag: str, value, step: int) -> None:
        value = number(value)
        if value is None or step <= self.written.get(tag, -1):
            return
        self.writer.add_scalar(tag, value, step)
        self.written[tag] = step

    def progress_row(self, row: dict, epsilon: float | None = None) -> None:
        """A row of the progress table as the run logs it: update metrics, or an interaction episode as it ends."""
        if row["kind"] == "episode":
            for tag, key in (("return", "episode_return"), ("length", "episode_length"), ("epsilon", "epsilon")):
                self.scalar(f"episode/{tag}", row[key], row["agent_step"])
            return
        for key, value in row.items():
            if key not in ("kind", "phase", "agent_step", "update", "wall_s"):
                self.scalar(f"train/{key}", value, row["update"])
        if epsilon is not None:
            self.scalar("train/epsilon", epsilon, row["update"])

    def evaluation(self, name: str, evaluation, step: int, demo_agreement=None, std: bool = False) -> None:
        """An evaluation's episodes (a table with score and expert_agreement) as their means under `name`/."""
        self.scalar(f"{name}/score", evaluation["score"].mean(), step)
        if std:
            self.scalar(f"{name}/score_std", evaluation["score"].std(ddof=0), step)
        self.scalar(f"{name}/expert_agreement", evaluation["expert_agreement"].astype(float).mean(), step)
        self.scalar(f"{name}/demo_agreement", demo_agreement, step)

    def close(self) -> None:
        self.writer.close()
