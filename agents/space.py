"""Free space, checked before a run allocates or computes anything: what its checkpoints and final outputs can take,
and whether the disks under its run folder and checkpoint folder hold that."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from .errors import OutputError
from .io import check_folder, size_text
from .network import QNetwork
from .replay import replay_bytes
from .settings import Settings

# A run asks for its largest checkpoint times (kept + 1), as one is written before the oldest goes, plus its final
# weights and tables, all with a quarter more than counted (torch's file records, the pickled progress rows and the
# emulator's state are not counted). The progress table has a row per episode, some 150 bytes: TABLES_BYTES holds
# 400,000 episodes.
SPACE_MARGIN = 1.25
TABLES_BYTES = 64 << 20


def output_bytes(settings: Settings, protocol: dict, overwritable_demos: int, demo_capacity: int,
                 agent_capacity: int) -> tuple[int, int]:
    """Upper estimates of one checkpoint and of the final weights, from the replay's partitions and the settings;
    `overwritable_demos`: demonstration frames laid into the agent partition (HER, RBS)."""
    s, p = settings, protocol
    with torch.device("meta"):  # sizes only: nothing is allocated
        network = QNetwork(18, p["frame_stack"], p["screen_size"], s.dueling)  # 18: the full action set
    weights = sum(tensor.numel() * tensor.element_size() for tensor in network.state_dict().values())
    # Agent slots a checkpoint can hold: one per agent step and one per episode start, so at most two per step.
    agent_slots = min(agent_capacity, overwritable_demos + 2 * s.agent_steps + 1)
    # The replay less the frames a checkpoint leaves out (demonstrations, reloaded from their file; slots the agent
    # never reaches), then both networks and Adam's two moments.
    slots, frame = demo_capacity + agent_capacity, (p["screen_size"], p["screen_size"])
    replay = replay_bytes(slots, frame) - (slots - agent_slots) * frame[0] * frame[1]
    return replay + 4 * weights, weights


def check_space(run_dir: Path, checkpoints, checkpoint: int, weights: int) -> None:
    """Refuse a run folder or checkpoint folder that is a file, cannot be written, or lacks the free space for what
    the run will write there (`SPACE_MARGIN`); `checkpoints`: the run's Checkpoints, whose kept files a resumed run
    replaces."""
    kept = sum(path.stat().st_size for path in checkpoints.files())
    copies = checkpoints.keep + 1
    places = [
        (run_dir, "run folder (--out)", SPACE_MARGIN * (weights + TABLES_BYTES), "the final weights and tables"),
        (checkpoints.directory, "checkpoint folder (--checkpoint-dir)",
         max(0.0, SPACE_MARGIN * copies * checkpoint - kept),
         f"{copies} checkpoints of up to {size_text(checkpoint)} (the newest {copies - 1} kept, one written)"),
    ]
    disks: dict[int, dict] = {}  # folders on one disk share its free space
    for folder, label, need, content in places:
        existing = check_folder(folder, label)
        disk = disks.setdefault(os.stat(existing).st_dev, {"names": [], "contents": [], "need": 0.0, "at": existing})
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
