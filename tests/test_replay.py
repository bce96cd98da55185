"""Replay invariants: frames stored once, states rebuilt per episode, n-step returns cut at terminals and at episode
ends, demonstrations never overwritten, priorities and importance weights as in Schaul et al."""
import numpy as np
import pytest

from agents.replay import PrioritizedReplay, replay_bytes
from agents.sumtree import MinTree, SumTree


def frame(value):
    return np.full((2, 2), value, dtype=np.uint8)


def make(demo_capacity=0, agent_capacity=64, n_step=3, gamma=0.5, prioritized=True, seed=0):
    return PrioritizedReplay(demo_capacity=demo_capacity, agent_capacity=agent_capacity, frame_shape=(2, 2), stack=4,
                             n_step=n_step, gamma=gamma, reward_transform="none", prioritized=prioritized,
                             alpha=0.4, bonus_agent=0.001, bonus_demo=1.0, rng=np.random.default_rng(seed))


def play(replay, rewards, terminal_at_end, first_value=1):
    """One episode with frames first_value, first_value+1, …; returns the slots of its steps."""
    replay.start_episode(frame(first_value))
    slots = []
    for index, reward in enumerate(rewards):
        last = index == len(rewards) - 1
        slots.append(replay.add_step(index % 3, reward, last and terminal_at_end, frame(first_value + index + 1)))
    replay.end_episode()
    return np.array(slots)


def assembled(replay, slots):
    """The batch of the transitions starting at `slots`, unit-weighted."""
    return replay.assemble(slots, np.ones(len(slots), dtype=np.float32))


def test_n_step_return_is_cut_at_a_terminal():
    replay = make(n_step=3, gamma=0.5)
    slots = play(replay, [1.0, 2.0, 4.0], terminal_at_end=True)
    batch = assembled(replay, slots)
    assert batch.returns_n.tolist() == pytest.approx([1 + 0.5 * 2 + 0.25 * 4, 2 + 0.5 * 4, 4])
    assert batch.discount_n.tolist() == [0.0, 0.0, 0.0]  # no bootstrap after a true terminal
    assert batch.discount_1.tolist() == [0.5, 0.5, 0.0]


def test_n_step_return_is_shortened_at_a_time_limit_and_bootstraps_from_the_last_frame():
    replay = make(n_step=3, gamma=0.5)
    slots = play(replay, [1.0, 2.0], terminal_at_end=False, first_value=10)
    batch = assembled(replay, slots)
    assert batch.returns_n.tolist() == pytest.approx([1 + 0.5 * 2, 2])
    assert batch.discount_n.tolist() == pytest.approx([0.25, 0.5])
    assert batch.next_states_n[:, -1, 0, 0].tolist() == [12, 12]  # the final frame of the episode


@pytest.mark.parametrize("terminal", [True, False])
def test_n_step_return_never_crosses_into_the_next_episode(terminal):
    # Cut at the terminal, or, where the episode ended at a time limit, at its end: bootstrapped from its last frame.
    replay = make(n_step=5, gamma=0.5)
    first = play(replay, [1.0, 1.0], terminal_at_end=terminal, first_value=10)
    play(replay, [100.0, 100.0, 100.0], terminal_at_end=True, first_value=50)
    batch = assembled(replay, first)
    assert batch.returns_n.tolist() == [1.0 + 0.5 * 1.0, 1.0]
    assert batch.discount_n.tolist() == ([0.0, 0.0] if terminal else [0.25, 0.5])
    assert batch.next_states_n[:, -1, 0, 0].tolist() == [12, 12]  # the first episode's last frame, never the next's


def test_full_n_step_return_bootstraps_n_steps_ahead():
    replay = make(n_step=2, gamma=0.5)
    slots = play(replay, [1.0, 1.0, 1.0, 1.0], terminal_at_end=True, first_value=20)
    batch = assembled(replay, slots[:1])
    assert batch.returns_n[0] == pytest.approx(1.5)
    assert batch.discount_n[0] == pytest.approx(0.25)
    assert batch.next_states_n[0, -1, 0, 0] == 22


def test_states_repeat_the_first_frame_at_episode_start_and_do_not_mix_episodes():
    replay = make()
    play(replay, [0.0] * 6, terminal_at_end=True, first_value=1)
    second = play(replay, [0.0] * 3, terminal_at_end=True, first_value=100)
    states = assembled(replay, second).states[:, :, 0, 0]
    assert states.tolist() == [[100, 100, 100, 100], [100, 100, 100, 101], [100, 100, 101, 102]]


def test_a_step_is_sampleable_as_soon_as_its_n_step_look_ahead_exists_and_not_before():
    replay = make(n_step=3)
    replay.start_episode(frame(1))
    for index in range(2):
        replay.add_step(0, 0.0, False, frame(index + 2))
    assert len(replay) == 0  # step 0's third reward is not there yet
    replay.add_step(0, 0.0, False, frame(4))
    assert len(replay) == 1  # its three rewards and the frame after them are
    replay.add_step(0, 0.0, False, frame(5))
    assert len(replay) == 2
    replay.add_step(0, 0.0, True, frame(6))
    assert len(replay) == 3
    replay.end_episode()  # the last steps are sampleable with the look-ahead they have
    assert len(replay) == 5


@pytest.mark.parametrize("n_step", [None, 1, 3])
def test_a_step_made_sampleable_during_its_episode_has_the_target_it_has_once_the_episode_is_over(n_step):
    """The wait is long enough: no transition is sampleable while its target could still change."""
    replay = make(n_step=n_step, gamma=0.5)
    rewards = np.random.default_rng(1).integers(-3, 4, size=9).astype(np.float32)
    replay.start_episode(frame(1))
    early = {}
    for index, reward in enumerate(rewards):
        last = index == len(rewards) - 1
        replay.add_step(index % 3, float(reward), last, frame(index + 2))
        for slot in np.flatnonzero(replay.valid):
            early.setdefault(int(slot), assembled(replay, np.array([slot])))
    replay.end_episode()
    assert len(early) == len(rewards) - ((n_step or 1) - 1)  # each as soon as its look-ahead exists
    for slot, before in early.items():
        after = assembled(replay, np.array([slot]))
        for name in ("rewards_1", "next_states_1", "discount_1", "returns_n", "next_states_n", "discount_n"):
            assert np.array_equal(getattr(before, name), getattr(after, name)), (slot, name)


def test_without_an_n_step_return_a_step_waits_for_the_frame_it_led_to_alone_and_none_is_assembled():
    """A method whose loss reads no n-step return (λ1 = 0, soft-Q, behaviour cloning) pays neither its wait nor its
    assembly: a step is sampleable as with n_step = 1, and its batch carries the 1-step target's ingredients alone."""
    replay, one_step = make(n_step=None), make(n_step=1)
    for buffer in (replay, one_step):
        buffer.start_episode(frame(1))
        buffer.add_step(0, 1.0, False, frame(2))
        assert len(buffer) == 1
        buffer.add_step(2, 3.0, False, frame(3))
        assert len(buffer) == 2
    slots, batch = replay.sample(4, beta=1.0)
    assert batch.returns_n is None and batch.next_states_n is None and batch.discount_n is None
    same = one_step.assemble(slots, batch.weights)
    for name in ("states", "actions", "rewards_1", "next_states_1", "discount_1", "is_demo", "weights"):
        assert np.array_equal(getattr(batch, name), getattr(same, name)), name


def test_each_frame_is_stored_once():
    replay = make(agent_capacity=100)
    play(replay, [0.0] * 9, terminal_at_end=True)
    assert replay.agent_written == 10  # 9 steps + the final frame; no copies for stacks or next states
    assert replay_bytes(1_000_000, (84, 84)) / 1_000_000 < 7_500


def demo_arrays(count_steps=4, value=200):
    frames = np.stack([frame(value + i) for i in range(count_steps + 1)])
    actions = np.array([1] * count_steps + [0], dtype=np.uint8)
    rewards = np.ones(count_steps + 1, dtype=np.float32)
    terminals = np.array([False] * (count_steps - 1) + [True, False])
    has_action = np.array([True] * count_steps + [False])
    return frames, actions, rewards, terminals, has_action, np.arange(count_steps + 1, dtype=np.int32)


def test_demonstrations_are_never_overwritten():
    replay = make(demo_capacity=5, agent_capacity=8)
    replay.add_demonstrations(*demo_arrays())
    names = ("frames", "actions", "rewards", "terminals", "has_action", "episode_step")
    before = {name: getattr(replay, name)[:5].copy() for name in names}
    for episode in range(10):
        play(replay, [0.0] * 7, terminal_at_end=True, first_value=episode * 10)
    for name in names:
        assert np.array_equal(getattr(replay, name)[:5], before[name]), name
    assert replay.valid[:4].all() and not replay.valid[4]
    assert replay.cursor >= 5


def test_overwriting_the_oldest_frame_invalidates_slots_that_stack_on_it():
    replay = make(agent_capacity=8, n_step=1)
    play(replay, [0.0] * 7, terminal_at_end=True)  # fills the 8 agent slots
    assert replay.valid[:7].sum() == 7
    replay.start_episode(frame(99))  # overwrites slot 0
    assert not replay.valid[0] and not replay.valid[1:4].any() and replay.valid[4:7].all()
    # They leave the sampling trees too: no probability mass, no minimum, never sampled.
    gone = np.arange(4)
    assert replay.sum_tree.get(gone).tolist() == [0.0] * 4 and np.isinf(replay.min_tree.get(gone)).all()
    sampled, _ = replay.sample(256, beta=0.5)
    assert set(sampled.tolist()) <= set(range(4, 7))


def test_a_priority_update_for_a_slot_overwritten_since_it_was_sampled_is_ignored():
    replay = make(agent_capacity=8, n_step=1)
    play(replay, [0.0] * 7, terminal_at_end=True)
    replay.start_episode(frame(99))  # slot 0 overwritten, slots 1-3 no longer sampleable
    replay.update_priorities(np.array([1, 5]), np.array([10.0, 10.0]))
    assert replay.sum_tree.get(np.array([1])).tolist() == [0.0]
    assert replay.sum_tree.get(np.array([5])).tolist() == pytest.approx([(10.0 + 0.001) ** 0.4])


def test_a_new_transition_gets_the_highest_priority_seen_so_far():
    replay = make(agent_capacity=16, n_step=1)
    first = play(replay, [0.0] * 3, terminal_at_end=True)
    replay.update_priorities(first, np.array([0.1, 5.0, 0.2]))
    replay.update_priorities(first[:1], np.array([0.3]))  # a later, lower update does not lower the maximum
    new = play(replay, [0.0], terminal_at_end=True, first_value=50)
    assert replay.sum_tree.get(new).tolist() == pytest.approx([(5.0 + 0.001) ** 0.4])


def test_demonstration_n_step_returns_and_states_stay_within_their_episode():
    # Two demonstration episodes: the first (frames 200-202) ends at a time limit, the second (210-212) at a terminal.
    frames = np.stack([frame(value) for value in (200, 201, 202, 210, 211, 212)])
    actions = np.array([1, 1, 0, 1, 1, 0], dtype=np.uint8)
    rewards = np.array([1.0, 2.0, 0.0, 4.0, 8.0, 0.0], dtype=np.float32)
    terminals = np.array([False, False, False, False, True, False])
    has_action = np.array([True, True, False, True, True, False])
    replay = make(demo_capacity=6, agent_capacity=8, n_step=3, gamma=0.5)
    replay.add_demonstrations(frames, actions, rewards, terminals, has_action, np.array([0, 1, 2, 0, 1, 2]))
    batch = assembled(replay, np.array([0, 1, 3, 4]))
    assert batch.returns_n.tolist() == pytest.approx([1.0 + 0.5 * 2.0, 2.0, 4.0 + 0.5 * 8.0, 8.0])
    assert batch.discount_n.tolist() == pytest.approx([0.25, 0.5, 0.0, 0.0])
    assert batch.next_states_n[:, -1, 0, 0].tolist()[:2] == [202, 202]  # the first episode's last frame
    # The second episode's first state repeats its own first frame, never the first episode's frames.
    assert batch.states[2, :, 0, 0].tolist() == [210, 210, 210, 210]


def test_new_priorities_use_the_demo_and_agent_bonuses():
    replay = make(demo_capacity=5, agent_capacity=16)
    replay.add_demonstrations(*demo_arrays())
    agent_slots = play(replay, [0.0] * 4, terminal_at_end=True)
    slots = np.array([0, agent_slots[0]])
    replay.update_priorities(slots, np.array([0.5, 0.5]))
    assert replay.sum_tree.get(slots).tolist() == pytest.approx([(0.5 + 1.0) ** 0.4, (0.5 + 0.001) ** 0.4])


def test_importance_weights_follow_sampling_probabilities():
    replay = make(agent_capacity=16, n_step=1)
    slots = play(replay, [0.0] * 4, terminal_at_end=True)
    replay.update_priorities(slots, np.array([1.0, 2.0, 3.0, 4.0]))
    sampled, batch = replay.sample(64, beta=0.6)
    priorities = (np.array([1.0, 2.0, 3.0, 4.0]) + 0.001) ** 0.4
    probabilities = priorities / priorities.sum()
    expected = (4 * probabilities) ** -0.6 / (4 * probabilities.min()) ** -0.6
    lookup = dict(zip(slots.tolist(), expected))
    assert batch.weights.tolist() == pytest.approx([lookup[s] for s in sampled.tolist()], rel=1e-5)


def test_sampling_frequencies_are_proportional_to_priority_to_the_alpha():
    replay = make(agent_capacity=16, n_step=1, seed=1)
    slots = play(replay, [0.0] * 3, terminal_at_end=True)
    replay.update_priorities(slots, np.array([0.0, 1.0, 9.0]))
    counts = np.zeros(3)
    for _ in range(400):
        sampled, _ = replay.sample(32, beta=1.0)
        counts += [(sampled == slot).sum() for slot in slots]
    priorities = (np.array([0.0, 1.0, 9.0]) + 0.001) ** 0.4
    assert counts / counts.sum() == pytest.approx(priorities / priorities.sum(), abs=0.01)


def test_uniform_replay_gives_unit_weights():
    replay = make(agent_capacity=16, n_step=1, prioritized=False)
    slots = play(replay, [0.0] * 3, terminal_at_end=True)
    replay.update_priorities(slots, np.array([0.0, 1.0, 9.0]))
    assert replay.sample(8, beta=0.6)[1].weights.tolist() == [1.0] * 8


def test_sum_and_min_trees():
    tree, low = SumTree(5), MinTree(5)
    values = np.array([1.0, 0.0, 3.0, 2.0, 4.0])
    tree.set(np.arange(5), values)
    low.set(np.arange(5), values)
    assert tree.reduce() == 10.0 and low.reduce() == 0.0
    assert tree.find(np.array([0.0, 0.99, 1.0, 3.99, 4.0, 5.99, 6.0, 9.99])).tolist() == [0, 0, 2, 2, 3, 3, 4, 4]


def test_trees_stay_consistent_under_single_and_batched_writes_with_repeats():
    rng = np.random.default_rng(0)
    tree, low = SumTree(1000), MinTree(1000)
    leaves = np.zeros(1000)
    low.set(np.arange(1000), leaves)
    for size in [1, 2, 8, 9, 32, 1, 100, 3]:  # both sides of the scalar walk's limit
        indices = rng.integers(0, 1000, size)
        indices[-1] = indices[0]  # a repeated index: the last write wins
        values = rng.random(size)
        tree.set(indices, values)
        low.set(indices, values)
        leaves[indices] = values
        assert leaves[indices[0]] == values[-1]
        internal = np.arange(1, tree.size)
        for trial in (tree, low):
            children = trial.op(trial.nodes[2 * internal], trial.nodes[2 * internal + 1])
            assert trial.nodes[internal] == pytest.approx(children)
        assert tree.reduce() == pytest.approx(leaves.sum()) and low.reduce() == leaves.min()


def test_range_reductions_of_the_trees():
    tree, low = SumTree(5), MinTree(5)
    values = np.array([1.0, 0.5, 3.0, 2.0, 4.0])
    tree.set(np.arange(5), values)
    low.set(np.arange(5), values)
    for start in range(5):
        for end in range(start + 1, 6):
            assert tree.reduce(start, end) == pytest.approx(values[start:end].sum())
            assert low.reduce(start, end) == values[start:end].min()


def test_a_fixed_demo_share_draws_that_share_of_each_batch_weighted_for_priorities_within_its_pool():
    replay = make(demo_capacity=5, agent_capacity=16, n_step=1)
    replay.add_demonstrations(*demo_arrays())  # 4 demo transitions
    agent = play(replay, [0.0] * 8, terminal_at_end=True)
    replay.update_priorities(agent, np.linspace(0.0, 7.0, 8))
    sampled, batch = replay.sample(8, beta=1.0, demo_share=0.25)
    assert batch.is_demo.sum() == 2 and batch.is_demo[:2].all()
    # Within its pool a slot is drawn with P(i) = p_i / (pool mass); its weight (n_pool·P(i))^-β, divided by the
    # largest weight any slot of either pool could get. The share itself is not corrected for.
    p = replay.sum_tree.get(np.arange(len(replay.valid)))
    demo, agent_pool = np.arange(len(p)) < 5, np.arange(len(p)) >= 5
    valid = replay.valid
    n_demo, n_agent = (valid & demo).sum(), (valid & agent_pool).sum()
    assert (n_demo, n_agent) == (4, 8)
    scaled = np.where(demo, n_demo * p / p[demo].sum(), n_agent * p / p[agent_pool].sum())  # n_pool·P(i)
    largest = 1.0 / scaled[valid].min()
    expected = 1.0 / scaled[sampled] / largest
    assert batch.weights == pytest.approx(expected, rel=1e-5)
    # before any agent data exists, the whole batch comes from the demonstrations
    only_demos = make(demo_capacity=5, agent_capacity=16, n_step=1)
    only_demos.add_demonstrations(*demo_arrays())
    assert only_demos.sample(8, beta=1.0, demo_share=0.25)[1].is_demo.all()
    # a share of 0 leaves the demonstrations out (soft-Q after its pretraining window)
    assert not replay.sample(8, beta=1.0, demo_share=0.0)[1].is_demo.any()


@pytest.mark.parametrize("beta", [0.4, 1.0])
def test_uniform_replay_gives_unit_weights_whatever_the_demo_share(beta):
    """Soft-Q's 50/50 batches (Algorithm 1) and HER's fixed mix under uniform replay: nothing to correct."""
    replay = make(demo_capacity=5, agent_capacity=64, n_step=1, prioritized=False)
    replay.add_demonstrations(*demo_arrays())  # 4 demo transitions against 40 agent ones
    play(replay, [0.0] * 40, terminal_at_end=True)
    for share in (0.25, 0.5):
        _, batch = replay.sample(32, beta=beta, demo_share=share)
        assert batch.is_demo.sum() == round(share * 32)
        assert np.array_equal(batch.weights, np.ones(32, dtype=np.float32))


def test_a_fixed_demo_share_is_kept_in_the_gradient_at_beta_one():
    """With priorities, at β = 1 a demo row weighs as much as an agent row on average (E[w] = 1 / largest weight in
    each pool), so the demonstrations' share of the gradient is the declared share, whatever their share of the
    buffer (HER, Ape-X-style mixing)."""
    replay = make(demo_capacity=5, agent_capacity=64, n_step=1, seed=3)
    replay.add_demonstrations(*demo_arrays())
    agent = play(replay, [0.0] * 40, terminal_at_end=True)
    replay.update_priorities(agent, np.random.default_rng(0).exponential(2.0, size=40))
    replay.update_priorities(np.arange(4), np.array([0.0, 3.0, 0.5, 9.0]))
    sums, rows = np.zeros(2), np.zeros(2)
    for _ in range(3000):
        _, batch = replay.sample(32, beta=1.0, demo_share=0.25)
        for pool, rows_of_pool in enumerate((batch.is_demo, ~batch.is_demo)):
            sums[pool] += batch.weights[rows_of_pool].sum()
            rows[pool] += rows_of_pool.sum()
    demo_share_of_gradient = sums[0] / sums.sum()
    assert rows[0] / rows.sum() == 0.25
    assert demo_share_of_gradient == pytest.approx(0.25, abs=0.01)


def test_overwritable_demonstrations_start_the_agent_buffer_and_are_overwritten_later():
    replay = make(demo_capacity=0, agent_capacity=8, n_step=1)
    replay.add_demonstrations(*demo_arrays(), permanent=False)
    assert replay.num_demo == 0 and replay.valid[:4].all() and not replay.sample(4, beta=1.0)[1].is_demo.any()
    demo_frames = replay.frames[:5].copy()
    play(replay, [0.0] * 2, terminal_at_end=True, first_value=50)  # slots 5, 6, 7: the demos survive
    assert np.array_equal(replay.frames[:5], demo_frames)
    play(replay, [0.0] * 4, terminal_at_end=True, first_value=60)  # wraps around over the demos
    assert not np.array_equal(replay.frames[:5], demo_frames)
    with pytest.raises(ValueError, match="do not fit"):
        make(agent_capacity=3).add_demonstrations(*demo_arrays(), permanent=False)


@pytest.mark.parametrize("permanent", [True, False])
def test_the_running_counts_of_sampleable_slots_match_a_scan_through_overwrites_and_a_checkpoint(permanent):
    """The importance weights' n is kept as slots change, not counted at each sample: it must agree with `valid`."""
    replay = make(demo_capacity=5 if permanent else 0, agent_capacity=13, n_step=2)
    replay.add_demonstrations(*demo_arrays(), permanent=permanent)

    def check(buffer):
        split = buffer.demo_capacity
        assert (buffer.valid_demo, buffer.valid_agent) == (buffer.valid[:split].sum(), buffer.valid[split:].sum())
        assert len(buffer) == buffer.valid.sum()

    check(replay)
    rng = np.random.default_rng(3)
    for episode in range(12):  # episodes of varied lengths wrap the agent buffer several times, mid-episode too
        replay.start_episode(frame(episode))
        length = int(rng.integers(1, 9))
        for step in range(length):
            replay.add_step(0, 0.0, step == length - 1 and episode % 2 == 0, frame(step))
            check(replay)
        replay.end_episode()
        check(replay)
    restored = make(demo_capacity=5 if permanent else 0, agent_capacity=13, n_step=2)
    if permanent:
        restored.add_demonstrations(*demo_arrays(), permanent=True)
    restored.load_state_dict(replay.state_dict())
    check(restored)
    assert np.array_equal(restored.sample(8, beta=0.5)[1].weights, replay.sample(8, beta=0.5)[1].weights)
