"""The learner apart from any run: acting on a batch of states, each algorithm's behaviour policy and schedules,
an update's bookkeeping, and a state that round-trips."""
import io
from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.cell import resolve, values
from agents.errors import ConfigError
from agents.learner import Learner
from agents.methods import ALGORITHMS, epsilon_greedy
from agents.methods.soft_q import SoftQ
from agents.rules import planned_updates
from agents.settings import Settings

CONFIG = {"settings": {"replay_capacity": 64, "batch_size": 4, "target_update_period": 3, "agent_steps": 100},
           "method_settings": {"pdd_dqn": {"learning_starts": 10}}}


def learner(method: str, seed: int = 0, config: dict = CONFIG, demo_capacity: int = 0) -> Learner:
    cell = resolve("Pong", method, seed, config)
    settings = Settings.of(cell["settings"])
    torch.manual_seed(seed)
    return Learner(cell["algorithm"], settings, values(cell["protocol"]), num_actions=6, device=torch.device("cpu"),
                   rng=np.random.default_rng(seed), demo_capacity=demo_capacity, agent_capacity=64,
                   planned_updates=planned_updates(settings, cell["algorithm"]))


def fixed_preferences(table):
    """Preferences of a stand-in network: row i of `table` for a state whose first pixel is i."""
    asked = []

    def preferences(states):
        asked.append(len(states))
        return torch.as_tensor(table)[torch.as_tensor(states[:, 0, 0, 0]).long()]

    return preferences, asked


def test_epsilon_greedy_explores_a_share_epsilon_and_asks_the_network_once_for_the_rest():
    table = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0]])
    states = np.zeros((4000, 1, 1, 1), dtype=np.uint8)
    states[1::2] = 1
    preferences, asked = fixed_preferences(table)
    actions = epsilon_greedy(states, preferences, np.random.default_rng(0), 0.25, 3)
    greedy = np.where(states[:, 0, 0, 0] == 0, 1, 0)
    off_greedy = np.mean(actions != greedy)
    assert abs(off_greedy - 0.25 * 2 / 3) < 0.03  # a random action is the greedy one a third of the time
    assert len(asked) == 1 and 0.7 * 4000 < asked[0] < 0.8 * 4000
    preferences, asked = fixed_preferences(table)
    assert (epsilon_greedy(states[:8], preferences, np.random.default_rng(0), 0.0, 3) == greedy[:8]).all()
    preferences, asked = fixed_preferences(table)
    epsilon_greedy(states[:8], preferences, np.random.default_rng(0), 1.0, 3)
    assert asked == []  # every state explores: no forward pass


def test_soft_q_rollouts_sample_the_softmax_of_q_over_the_temperature():
    settings = Settings.of(resolve("Pong", "soft_q", 0, {})["settings"])
    algorithm = SoftQ(settings)
    temperature = settings.entropy_temperature
    table = np.array([[0.0, 0.1, 0.3]])
    preferences, _ = fixed_preferences(table)
    states = np.zeros((20000, 1, 1, 1), dtype=np.uint8)
    actions = algorithm.act(states, preferences, np.random.default_rng(1), agent_step=0, num_actions=3)
    expected = np.exp(table[0] / temperature) / np.exp(table[0] / temperature).sum()
    assert np.allclose(np.bincount(actions, minlength=3) / len(actions), expected, atol=0.015)


def test_schedules_belong_to_the_algorithm():
    s = replace(Settings.of(resolve("Pong", "pdd_dqn", 0, {})["settings"]), epsilon_start=1.0, epsilon_final=0.1,
             epsilon_decay_steps=100, learning_rate=1e-3, learning_rate_final=1e-4, learning_rate_decay_steps=10,
             learning_rate_decay_start=0)
    algorithm = ALGORITHMS["dqfd"](s)
    assert [algorithm.epsilon(step) for step in (0, 50, 100, 1000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    assert [algorithm.learning_rate(step) for step in (0, 5, 10, 99)] == pytest.approx([1e-3, 5.5e-4, 1e-4, 1e-4])
    assert ALGORITHMS["dqfd"](replace(s, learning_rate_decay_steps=0)).learning_rate(99) == 1e-3
    held = ALGORITHMS["dqfd"](replace(s, learning_rate_decay_start=20))  # the soft-Q paper's Table 2: held, then decayed
    assert [held.learning_rate(step) for step in (0, 20, 25, 30, 99)] == pytest.approx([1e-3, 1e-3, 5.5e-4, 1e-4, 1e-4])
    soft = Settings.of(resolve("Pong", "soft_q_pretrain", 0, {})["settings"])
    steps = soft.soft_q_pretrain_steps
    assert [SoftQ(soft).demo_share(step) for step in (0, steps - 1, steps)] == [0.5, 0.5, 0.0]


def test_an_update_counts_syncs_the_target_and_returns_its_metrics():
    agent = learner("pdd_dqn")
    frames = np.random.default_rng(0).integers(0, 255, (40, 84, 84), dtype=np.uint8)
    agent.begin_episode(frames[0])
    for index, frame in enumerate(frames[1:]):
        agent.observe(index % 6, 1.0, False, frame)
    before = {key: value.clone() for key, value in agent.target.state_dict().items()}
    metrics = agent.update(agent_step=20)
    assert agent.updates == 1 and {"loss", "loss_1_step", "q_mean"} <= set(metrics)
    assert all(torch.equal(before[key], value) for key, value in agent.target.state_dict().items())
    agent.update(agent_step=21)
    agent.update(agent_step=22)  # update 3: target_update_period
    assert all(torch.equal(agent.online.state_dict()[key], value) for key, value in agent.target.state_dict().items())


def test_importance_weights_anneal_from_beta0_at_the_first_update_to_1_at_the_last():
    agent = learner("pdd_dqn")  # 100 agent steps, updates every 4th from step 10 on: steps 12, 16, ..., 96
    assert agent.total_updates == 22
    frames = np.random.default_rng(0).integers(0, 255, (40, 84, 84), dtype=np.uint8)
    agent.begin_episode(frames[0])
    for index, frame in enumerate(frames[1:]):
        agent.observe(index % 6, 1.0, False, frame)
    betas, sample = [], agent.replay.sample
    agent.replay.sample = lambda size, beta, share: betas.append(beta) or sample(size, beta, share)
    for _ in range(agent.total_updates):
        agent.update(agent_step=50)
    beta0 = agent.settings.priority_beta0
    assert betas[0] == beta0 and betas[-1] == 1.0
    assert np.allclose(np.diff(betas), (1.0 - beta0) / 21)


def test_a_fixed_share_never_draws_a_batch_of_demonstrations_alone_once_learning_starts():
    # HER's share at the smallest learning_starts its rule allows, a multiple of update_period so that the first update
    # comes right after it: a batch of 6 holds round(0.25 · 6) = 2 demonstrations and 4 agent transitions; after agent
    # step 12 (13 played, the last 9 waiting for their 10-step look-ahead) exactly 4 are sampleable.
    config = {"settings": {**CONFIG["settings"], "agent_steps": 60, "batch_size": 6},
              "method_settings": {"her": {"learning_starts": 12}}}
    assert "set learning_starts to at least 12" in pytest.raises(
        ConfigError, resolve, "Pong", "her", 0, {**config, "method_settings": {"her": {"learning_starts": 11}}}).value.args[0]
    agent = learner("her", config=config, demo_capacity=20)
    s = agent.settings
    frames = np.random.default_rng(0).integers(0, 255, (81, 84, 84), dtype=np.uint8)
    steps = np.arange(20)
    agent.add_demonstrations(frames[:20], steps % 6, np.zeros(20), steps == 19, steps < 19, steps)
    demo_rows, agent_pool, original = [], [], agent.replay.sample

    def sample(*args):
        agent_pool.append(agent.replay.valid_agent)  # sampleable agent transitions when the batch is drawn
        sampled = original(*args)
        demo_rows.append(int(sampled[1].is_demo.sum()))
        return sampled

    agent.replay.sample = sample
    agent.begin_episode(frames[20])
    for step in range(s.agent_steps):  # as agents/run.py interacts
        agent.observe(step % 6, 0.0, False, frames[21 + step])
        if step >= s.learning_starts and step % s.update_period == 0:
            agent.update(agent_step=step + 1)
    assert s.update_period == 4 and agent_pool[0] == 4  # the rule's edge is exact: the batch's agent part, no more
    assert demo_rows == [2] * agent.total_updates  # round(0.25 · 6) every time, from the first update
    resolve("Pong", "her", 0, {})  # HER's defaults keep the rule (learning_starts 50,000)


@pytest.mark.parametrize("agent_steps, learning_starts, period, updates",
                         [(100, 10, 4, 22), (5, 3, 4, 1), (8, 0, 4, 2), (3, 5, 1, 0), (12, 12, 4, 0)])
def test_planned_updates_count_the_run_loops_updates_exactly(agent_steps, learning_starts, period, updates):
    # agents/run.py updates at every agent step t in [learning_starts, agent_steps) that the period divides.
    settings = replace(Settings.of(resolve("Pong", "dqfd", 0, {})["settings"]), pretrain_updates=7,
                       agent_steps=agent_steps, learning_starts=learning_starts, update_period=period)
    assert planned_updates(settings, "dqfd") == 7 + updates


def test_a_learner_restored_after_updates_makes_the_update_the_original_makes():
    """Everything later updates depend on goes through a checkpoint's serialisation and back: both networks, the
    optimiser's moments and step counts, the agent data the replay holds after wrapping around, its priorities and the
    steps of the episode under way, and the update count. Restored into a learner of another seed (its generator set
    as the run restores its own), the next update is the original's to the bit."""
    config = {"settings": {**CONFIG["settings"], "pretrain_updates": 5}}  # a short run: eager, as the tests are
    first, second = (learner("dqfd", seed, config, demo_capacity=20) for seed in (0, 1))
    frames = np.random.default_rng(0).integers(0, 255, (96, 84, 84), dtype=np.uint8)
    steps = np.arange(20)
    for agent in (first, second):  # demonstrations are reloaded from their file, not from a checkpoint
        agent.add_demonstrations(frames[:20], steps % 6, np.zeros(20), steps == 19, steps < 19, steps)
    first.begin_episode(frames[20])
    for step in range(72):  # 74 frames in 64 agent slots: the buffer wraps; the second episode is under way
        first.observe(step % 6, float(step % 3 - 1), False, frames[21 + step])
        if step == 29:
            first.end_episode()
            first.begin_episode(frames[94])
        if step % 4 == 0:
            first.update(agent_step=step)
    assert first.updates == 18 and first.optimizer.state_dict()["state"] and first.replay.pending
    assert first.replay.agent_written > first.replay.agent_capacity

    checkpoint = io.BytesIO()
    torch.save(first.state_dict(), checkpoint)  # as agents/checkpoint.py writes and reads it
    checkpoint.seek(0)
    second.load_state_dict(torch.load(checkpoint, weights_only=False))
    second.rng.bit_generator.state = first.rng.bit_generator.state  # the run's generator, checkpointed beside

    for agent in (first, second):
        agent.observe(1, 1.0, False, frames[95])
    metrics = [agent.update(agent_step=72) for agent in (first, second)]
    assert metrics[0].keys() == metrics[1].keys()
    assert all(torch.equal(metrics[0][key], metrics[1][key]) for key in metrics[0])
    for network in ("online", "target"):
        pairs = zip(getattr(first, network).state_dict().values(), getattr(second, network).state_dict().values())
        assert all(torch.equal(mine, theirs) for mine, theirs in pairs)
    assert np.array_equal(first.replay.sum_tree.nodes, second.replay.sum_tree.nodes)
    assert first.replay.pending == second.replay.pending and first.updates == second.updates == 19


@pytest.mark.parametrize("method, n_step", [
    ("dqfd", 10), ("apex_dqfd", 10), ("bc_finetune", 10),  # bc_finetune: its phase II, PDD-DQN
    ("dqn", None), ("dqfd_no_n_step", None),  # λ1 = 0
    ("soft_q", None), ("soft_q_pretrain", None), ("bc", None), ("dagger", None),  # losses without an n-step return
])
def test_only_a_loss_that_reads_the_n_step_return_has_the_replay_assemble_and_wait_for_it(method, n_step):
    cell = resolve("Pong", method, 0, {})
    assert ALGORITHMS[cell["algorithm"]](Settings.of(cell["settings"])).n_step() == n_step


def test_the_learners_replay_waits_for_the_look_ahead_its_loss_reads():
    config = {**CONFIG, "method_settings": {"pdd_dqn": {"learning_starts": 10}, "dqn": {"learning_starts": 10}}}
    assert learner("pdd_dqn", config=config).replay.look_ahead == 10
    assert learner("dqn", config=config).replay.look_ahead == 1  # its n_step = 10 unused: λ1 = 0


def test_act_gives_one_action_per_state_from_one_batch():
    agent = learner("dqfd")
    states = np.random.default_rng(0).integers(0, 255, (5, 4, 84, 84), dtype=np.uint8)
    with torch.no_grad():
        q = agent.online(torch.as_tensor(states))
    passes, preferences = [], agent.online.preferences
    agent.online.preferences = lambda batch: passes.append(len(batch)) or preferences(batch)
    actions = agent.act_greedy(states, 0.0, np.random.default_rng(0))
    assert actions.tolist() == q.argmax(dim=1).tolist()  # greedy in Q
    assert passes == [5]  # one forward pass for the five states
    passes.clear()
    assert agent.act(states, agent_step=0).shape == (5,) and len(passes) <= 1
