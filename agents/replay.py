"""One prioritized replay for every method.

Layout: a slot per frame. Slot i holds the frame o_t and, once the agent has acted, the action a_t, raw reward r_t and
whether that step ended in a true terminal. The last frame of an episode gets a slot with no action: it is never a
start index, but truncated episodes bootstrap from it. States (4 stacked frames) and n-step targets are assembled at
sample time, so each frame is stored once and not again as a next state.

An agent transition becomes sampleable as soon as its look-ahead exists: for a method whose loss reads the n-step
return, the actions and rewards of its n steps and the frame after them (the step itself and n − 1 later ones); for
the others (`n_step` None), whose batches carry no n-step return, the frame it led to, so that neither the wait nor
the assembly costs them anything. An episode's end completes every look-ahead still waiting.

Slots [0, demo_capacity) hold demonstrations and are never overwritten; slots after them are a circular buffer for
agent data. Priorities follow Schaul et al. (2016): P(i) = p_i^α / Σ p^α with p_i = |δ_i| + b, where b is the bonus
added to each priority (the DQfD paper's ε_a, ε_d): `bonus_demo` for demonstrations, `bonus_agent` for agent data;
importance weights (N·P(i))^-β are divided by the largest weight in the buffer.
"""
from __future__ import annotations

import resource

import numpy as np

from .batch import Batch
from .errors import ConfigError
from .sumtree import MinTree, SumTree

BYTES_PER_SLOT_EXTRA = 1 + 4 + 1 + 1 + 4 + 1  # action, reward, terminal, has_action, episode_step, valid

# What each slot holds; a demonstration file holds the same arrays (agents/demos/files.py).
ARRAYS = ("frames", "actions", "rewards", "terminals", "has_action", "episode_step")


def transform_reward(rewards: np.ndarray, kind: str) -> np.ndarray:
    """The reward the learner sees. Scores are always reported raw; this is applied at sample time in one place,
    so demonstration and agent data can never be transformed differently."""
    if kind == "signed_log":  # DQfD: sign(r)·log(1+|r|)
        return np.sign(rewards) * np.log1p(np.abs(rewards))
    if kind == "clip":  # DQN, soft-Q: r clipped to [-1, 1]
        return np.clip(rewards, -1.0, 1.0)
    if kind == "none":
        return rewards
    raise ValueError(f"unknown reward transform {kind!r}; use signed_log, clip or none")


def replay_bytes(slots: int, frame_shape: tuple[int, int]) -> int:
    return slots * (int(np.prod(frame_shape)) + BYTES_PER_SLOT_EXTRA) + 2 * 2 * 8 * (1 << int(np.ceil(np.log2(max(slots, 2)))))


def check_fits_in_memory(slots: int, frame_shape: tuple[int, int]) -> None:
    import psutil

    need, available = replay_bytes(slots, frame_shape), psutil.virtual_memory().available
    if need > 0.9 * available:
        raise ConfigError(
            f"replay of {slots:,} slots needs {need / 2**30:.1f} GiB but only {available / 2**30:.1f} GiB is free; "
            "lower replay_capacity in the config"
        )
    # A limit on the process's address space (ulimit -v) refuses an allocation however much the machine has free.
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit != resource.RLIM_INFINITY:
        room = limit - psutil.Process().memory_info().vms
        if need > 0.9 * room:
            raise ConfigError(
                f"replay of {slots:,} slots needs {need / 2**30:.1f} GiB but this process may map only "
                f"{max(room, 0) / 2**30:.1f} GiB more (its address-space limit, ulimit -v, is {limit / 2**30:.1f} GiB); "
                "lower replay_capacity in the config, or raise the limit"
            )


class PrioritizedReplay:
    def __init__(
        self,
        *,
        demo_capacity: int,
        agent_capacity: int,
        frame_shape: tuple[int, int],
        stack: int,
        n_step: int | None,
        gamma: float,
        reward_transform: str,
        prioritized: bool,
        alpha: float,
        bonus_agent: float,
        bonus_demo: float,
        rng: np.random.Generator,
    ):
        self.demo_capacity, self.agent_capacity = demo_capacity, agent_capacity
        self.stack, self.n_step, self.gamma = stack, n_step, gamma
        self.look_ahead = n_step or 1  # agent steps a transition's target reads, its own included
        self.reward_transform = reward_transform
        self.prioritized, self.alpha = prioritized, alpha
        self.bonus_agent, self.bonus_demo = bonus_agent, bonus_demo
        self.rng = rng
        slots = demo_capacity + agent_capacity
        self.frames = np.zeros((slots, *frame_shape), dtype=np.uint8)
        self.actions = np.zeros(slots, dtype=np.uint8)
        self.rewards = np.zeros(slots, dtype=np.float32)
        self.terminals = np.zeros(slots, dtype=bool)
        self.has_action = np.zeros(slots, dtype=bool)
        self.episode_step = np.zeros(slots, dtype=np.int32)
        self.valid = np.zeros(slots, dtype=bool)  # sampleable: an action, complete look-ahead, full history
        # How many slots of each partition are valid, kept as slots change: the importance weights need them at every
        # sample, and counting `valid` there would scan the whole buffer each time.
        self.valid_demo = self.valid_agent = 0
        self.sum_tree, self.min_tree = SumTree(slots), MinTree(slots)
        self.max_priority = 1.0
        self.num_demo = 0
        self.cursor = demo_capacity  # next agent slot to write
        self.agent_written = 0
        self.pending: list[int] = []  # current-episode slots waiting for their look-ahead

    # ----------------------------------------------------------------------------------------------------- writing
    def add_demonstrations(self, frames, actions, rewards, terminals, has_action, episode_step,
                           permanent: bool = True) -> None:
        """Permanent demonstrations fill the demo partition (DQfD, HER). Otherwise they are written as the first agent
        data, and the circular buffer overwrites them like any other (replay buffer spiking)."""
        count = len(frames)
        start = 0 if permanent else self.demo_capacity
        room = self.demo_capacity if permanent else self.agent_capacity
        if count > room:
            raise ValueError(f"{count} demo slots do not fit the {'demo' if permanent else 'agent'} partition of {room}")
        where = slice(start, start + count)
        for name, value in zip(ARRAYS, (frames, actions, rewards, terminals, has_action, episode_step)):
            getattr(self, name)[where] = value
        if permanent:
            self.num_demo = count
        else:
            self.agent_written = count
            self.cursor = int(self._shift(np.array([start]), count)[0])
        self._activate(start + np.flatnonzero(has_action[:count]))

    def start_episode(self, frame: np.ndarray) -> None:
        """An agent episode starts from `frame` (one not ended before it ends here)."""
        self.end_episode()
        self._write_frame(frame, step=0)

    def add_step(self, action: int, reward: float, terminal: bool, next_frame: np.ndarray) -> int:
        """Store one agent step: the action, reward and terminal flag in the slot of the frame it was taken from,
        the frame it led to in the next slot. Returns the step's slot."""
        slot = self._previous(self.cursor)
        self.actions[slot], self.rewards[slot], self.terminals[slot] = action, reward, terminal
        self.has_action[slot] = True
        self.pending.append(slot)
        self._write_frame(next_frame, step=int(self.episode_step[slot]) + 1)
        while len(self.pending) >= self.look_ahead:  # the oldest's steps now all have their action and the frame after
            self._activate(np.array([self.pending.pop(0)]))
        return slot

    def end_episode(self) -> None:
        """The agent episode is over: the steps still waiting for their look-ahead become sampleable, their returns
        cut at the episode's end."""
        if self.pending:
            self._activate(np.array(self.pending))
            self.pending = []

    def _write_frame(self, frame: np.ndarray, step: int) -> None:
        slot = self.cursor
        if self.agent_written >= self.agent_capacity:
            # Overwriting the oldest slot also removes the history of the next few slots that stack on it.
            offsets = np.arange(self.stack)
            later = self._shift(np.full(self.stack, slot), offsets)
            self._deactivate(later[self.episode_step[later] >= offsets])
        self.frames[slot] = frame
        self.has_action[slot] = False
        self.terminals[slot] = False
        self.episode_step[slot] = step
        self.cursor = self._shift(np.array([slot]), 1)[0]
        self.agent_written += 1

    def _activate(self, slots: np.ndarray) -> None:
        if len(slots) == 0:
            return
        self._count(np.unique(slots[~self.valid[slots]]), +1)
        self.valid[slots] = True
        self._set_priority(slots, np.full(len(slots), self.max_priority))

    def _deactivate(self, slots: np.ndarray) -> None:
        slots = np.unique(slots[self.valid[slots]])
        if len(slots):
            self._count(slots, -1)
            self.valid[slots] = False
            self.sum_tree.set(slots, np.zeros(len(slots)))
            self.min_tree.set(slots, np.full(len(slots), np.inf))

    def _count(self, slots: np.ndarray, sign: int) -> None:
        demo = int(np.count_nonzero(slots < self.demo_capacity))
        self.valid_demo += sign * demo
        self.valid_agent += sign * (len(slots) - demo)

    def _set_priority(self, slots: np.ndarray, priorities: np.ndarray) -> None:
        scaled = priorities**self.alpha if self.prioritized else np.ones(len(slots))
        self.sum_tree.set(slots, scaled)
        self.min_tree.set(slots, scaled)

    def update_priorities(self, slots: np.ndarray, td_errors: np.ndarray) -> None:
        """p = |δ| + b, with the larger bonus b for demonstrations so they keep being replayed (DQfD)."""
        if not self.prioritized:
            return
        keep = self.valid[slots]  # a slot overwritten since it was sampled keeps its new priority
        slots, td_errors = slots[keep], td_errors[keep]
        bonus = np.where(slots < self.demo_capacity, self.bonus_demo, self.bonus_agent)
        priorities = np.abs(td_errors) + bonus
        self.max_priority = max(self.max_priority, float(priorities.max(initial=0.0)))
        self._set_priority(slots, priorities)

    # ------------------------------------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict:
        """Agent data written so far and every priority; the demo partition is reloaded from its file instead."""
        agent = slice(self.demo_capacity, self.demo_capacity + min(self.agent_written, self.agent_capacity))
        return {
            "agent": {name: getattr(self, name)[agent].copy() for name in ARRAYS},
            "valid": self.valid.copy(),
            "sum_tree": self.sum_tree.nodes.copy(),
            "min_tree": self.min_tree.nodes.copy(),
            "max_priority": self.max_priority,
            "num_demo": self.num_demo,
            "cursor": self.cursor,
            "agent_written": self.agent_written,
            "pending": list(self.pending),
        }

    def load_state_dict(self, state: dict) -> None:
        if len(state["valid"]) != len(self.valid) or state["num_demo"] != self.num_demo:
            raise ValueError("checkpointed replay has another layout than this run's")
        filled = len(state["agent"]["frames"])
        for name in ARRAYS:
            getattr(self, name)[self.demo_capacity : self.demo_capacity + filled] = state["agent"][name]
        self.valid[:] = state["valid"]
        self.valid_demo = int(np.count_nonzero(self.valid[: self.demo_capacity]))
        self.valid_agent = int(np.count_nonzero(self.valid[self.demo_capacity :]))
        self.sum_tree.nodes[:] = state["sum_tree"]
        self.min_tree.nodes[:] = state["min_tree"]
        self.max_priority, self.cursor = state["max_priority"], state["cursor"]
        self.agent_written, self.pending = state["agent_written"], list(state["pending"])

    # ---------------------------------------------------------------------------------------------------- indexing
    def _shift(self, slots: np.ndarray, offset) -> np.ndarray:
        """Slot `offset` steps later (or earlier) in time: plain in the demo partition, circular in the agent one."""
        in_demo = slots < self.demo_capacity
        demo = np.clip(slots + offset, 0, max(self.demo_capacity - 1, 0))
        agent = self.demo_capacity + (slots - self.demo_capacity + offset) % max(self.agent_capacity, 1)
        return np.where(in_demo, demo, agent)

    def _previous(self, slot: int) -> int:
        return int(self._shift(np.array([slot]), -1)[0])

    def __len__(self) -> int:
        return self.valid_demo + self.valid_agent

    def demonstration_count(self) -> int:
        """Transitions in the demo partition."""
        return int(np.count_nonzero(self.has_action[: self.demo_capacity]))

    def demonstrations(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stacked states and actions of the demo partition's transitions numbered `which`, in recorded order."""
        slots = np.flatnonzero(self.has_action[: self.demo_capacity])[which]
        return self.stacked_states(slots), self.actions[slots].astype(np.int64)

    def stacked_states(self, slots: np.ndarray) -> np.ndarray:
        """Frames t-3..t of each slot's episode, the first frame repeated before the episode starts."""
        back = np.arange(self.stack - 1, -1, -1)[None, :]  # 3, 2, 1, 0
        back = np.minimum(back, self.episode_step[slots][:, None])
        return self.frames[self._shift(slots[:, None], -back)]

    # ---------------------------------------------------------------------------------------------------- sampling
    def sample(self, batch_size: int, beta: float, demo_share: float | None = None) -> tuple[np.ndarray, Batch]:
        """Proportional prioritized sampling over the whole buffer (`demo_share` None: demonstrations compete through
        their priorities, DQfD); with a `demo_share`, that share of the batch is drawn from the demo partition and the
        rest from agent data, each proportionally to priority (HER and soft-Q: a fixed mix; 0: agent data only).
        Returns the sampled slots, whose priorities the update sets afterwards, and the batch.

        Importance weights (n·P(i))^-β correct for priorities only, within the pool a sample was drawn from (n its
        valid slots, P(i) its probability there), as in Ape-X's mixing: a fixed share is part of the method, not a
        bias to undo, so uniform replay gives unit weights whatever the share, and at β = 1 a demonstration row
        weighs as much as an agent row on average, so the demonstrations keep their declared share of the gradient.
        Weights are divided by the largest any slot of the sampled pools could get.

        Before the agent pool holds a sampleable transition (phase I) a fixed share has nothing to mix with, and the
        batch is the demonstrations alone; interaction updates wait until the agent pool can fill its part (the
        rule on learning_starts in agents/rules.py)."""
        total = self.sum_tree.reduce()
        if total <= 0:
            raise RuntimeError("replay has nothing to sample")
        demo_mass = self.sum_tree.reduce(0, self.demo_capacity) if self.num_demo else 0.0
        agent_mass = total - demo_mass
        # A pool: its slots [start, stop), how many of them are valid, the number of samples drawn from it, and where
        # its mass lies in the tree. Without a share, one pool: the whole buffer (only demos before any agent data).
        pools = [(0, len(self.valid), len(self), batch_size, 0.0, total)]
        if demo_share is not None and demo_mass > 0 and agent_mass > 1e-12 * total:
            num_demo = int(round(demo_share * batch_size))
            pools = [(0, self.demo_capacity, self.valid_demo, num_demo, 0.0, demo_mass),
                     (self.demo_capacity, len(self.valid), self.valid_agent, batch_size - num_demo, demo_mass,
                      agent_mass)]
            pools = [pool for pool in pools if pool[3] > 0]  # a share of 0 or 1 draws from one pool only
        slots, weights, largest = [], [], 0.0
        for start, stop, count, size, low, mass in pools:
            # Stratified: one draw from each of `size` equal slices of the pool's mass.
            targets = low + (np.arange(size) + self.rng.random(size)) * (mass / size)
            chosen = self.sum_tree.find(np.clip(targets, low, np.nextafter(low + mass, 0)))
            slots.append(chosen)
            weights.append((count * self.sum_tree.get(chosen) / mass) ** -beta)
            largest = max(largest, (count * self.min_tree.reduce(start, stop) / mass) ** -beta)
        slots = np.concatenate(slots)
        return slots, self.assemble(slots, (np.concatenate(weights) / largest).astype(np.float32))

    def assemble(self, slots: np.ndarray, weights: np.ndarray) -> Batch:
        """The batch of the transitions that start at `slots`, with their importance `weights`: the 1-step and n-step
        targets' ingredients (without n_step, the 1-step target's alone)."""
        returns_n = next_states_n = discount_n = None
        if self.n_step is not None:
            returns_n, bootstrap, discount_n = self.n_step_returns(slots)
            next_states_n = self.stacked_states(bootstrap)
        return Batch(
            states=self.stacked_states(slots),
            actions=self.actions[slots].astype(np.int64),
            rewards_1=transform_reward(self.rewards[slots], self.reward_transform).astype(np.float32),
            next_states_1=self.stacked_states(self._shift(slots, 1)),
            discount_1=np.where(self.terminals[slots], 0.0, self.gamma).astype(np.float32),
            returns_n=returns_n,
            next_states_n=next_states_n,
            discount_n=discount_n,
            is_demo=slots < self.demo_capacity,
            weights=weights,
        )

    def n_step_returns(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The n-step return of each start slot, the slot it bootstraps from and the discount of that bootstrap.

        The return sums transformed rewards until n steps, a true terminal (no bootstrap after it: discount 0) or the
        end of the recorded episode (bootstrap from its last frame), whichever comes first.
        """
        size = len(slots)
        returns_n = np.zeros(size, dtype=np.float32)
        discount = np.ones(size, dtype=np.float32)
        steps = np.zeros(size, dtype=np.int64)
        alive = np.ones(size, dtype=bool)
        terminated = np.zeros(size, dtype=bool)
        for k in range(self.n_step):
            current = self._shift(slots, k)
            acts = alive & self.has_action[current]
            reward = transform_reward(self.rewards[current], self.reward_transform)
            returns_n += np.where(acts, discount * reward, 0.0).astype(np.float32)
            discount = np.where(acts, discount * self.gamma, discount).astype(np.float32)
            steps += acts
            terminated |= acts & self.terminals[current]
            alive = acts & ~self.terminals[current]
        return returns_n, self._shift(slots, steps), np.where(terminated, 0.0, discount).astype(np.float32)
