"""Array-backed segment trees for proportional prioritized sampling (Schaul et al. 2016).

All operations are vectorised over a batch of indices, so sampling 32 items from a million-leaf tree is about
twenty numpy gathers rather than 32 Python tree walks.
"""
from __future__ import annotations

import numpy as np


class SegmentTree:
    def __init__(self, capacity: int, op, neutral: float):
        self.capacity = capacity
        self.size = 1 << max(1, int(np.ceil(np.log2(capacity))))
        self.op, self.neutral = op, neutral
        self.nodes = np.full(2 * self.size, neutral, dtype=np.float64)

    def set(self, indices: np.ndarray, values: np.ndarray) -> None:
        indices = np.asarray(indices, dtype=np.int64)
        # Last write wins for duplicate indices, as with plain assignment.
        nodes = indices + self.size
        self.nodes[nodes] = values
        nodes = np.unique(nodes // 2)
        while nodes[0] >= 1:
            self.nodes[nodes] = self.op(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def get(self, indices: np.ndarray) -> np.ndarray:
        return self.nodes[np.asarray(indices, dtype=np.int64) + self.size]

    def reduce(self, start: int = 0, end: int | None = None) -> float:
        """op over leaves [start, end): the whole tree's root, or a range walked bottom-up in O(log n)."""
        if start == 0 and end is None:
            return float(self.nodes[1])
        result, low, high = self.neutral, start + self.size, (self.capacity if end is None else end) + self.size
        while low < high:
            if low & 1:
                result, low = self.op(result, self.nodes[low]), low + 1
            if high & 1:
                high -= 1
                result = self.op(result, self.nodes[high])
            low, high = low // 2, high // 2
        return float(result)


class SumTree(SegmentTree):
    def __init__(self, capacity: int):
        super().__init__(capacity, np.add, 0.0)

    def find(self, prefix_sums: np.ndarray) -> np.ndarray:
        """Index of the first leaf whose cumulative sum exceeds each prefix sum."""
        nodes = np.ones(len(prefix_sums), dtype=np.int64)
        remaining = np.asarray(prefix_sums, dtype=np.float64).copy()
        while nodes[0] < self.size:
            left = 2 * nodes
            left_sum = self.nodes[left]
            go_right = remaining >= left_sum
            remaining = np.where(go_right, remaining - left_sum, remaining)
            nodes = np.where(go_right, left + 1, left)
        return nodes - self.size


class MinTree(SegmentTree):
    def __init__(self, capacity: int):
        super().__init__(capacity, np.minimum, np.inf)
