"""Progress for long jobs: a bar when stderr is a terminal, a plain line every `interval` seconds in logs."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, unit: str, label: str, interval: float = 30.0, initial: int = 0):
        """`unit`: what is counted, singular ("update", "agent step"); `initial`: units already done before this
        process started (a resumed run)."""
        self.total, self.unit, self.label, self.interval = total, unit, label, interval
        self.done = self.initial = initial
        self.start = self.last_line = time.monotonic()
        self.bar = (tqdm(total=total, initial=initial, unit=unit, desc=label, dynamic_ncols=True)
                    if sys.stderr.isatty() else None)

    def update(self, count: int = 1, status: str = "") -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
            if status:
                self.bar.set_postfix_str(status, refresh=False)
            return
        now = time.monotonic()
        if now - self.last_line >= self.interval or self.done >= self.total:
            self.last_line = now
            rate = (self.done - self.initial) / max(now - self.start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(f"[{self.label}] {self.done}/{self.total} {self.unit}s ({100 * self.done / max(self.total, 1):.0f}%), "
                  f"{rate:.1f} {self.unit}s/s, eta {eta / 60:.1f} min {status}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
