"""Soft Q-learning and its pretraining with demonstrations (Zhang et al. 2019) against hand-computed values."""
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from agents import losses
from agents.batch import Batch
from agents.cell import resolve
from agents.methods import ALGORITHMS
from agents.methods.soft_q import SoftQ
from agents.settings import Settings

TAU = 0.5  # entropy weight τ, large enough that the policies below are far from greedy


class TableQ(nn.Module):
    """Q(s, ·) is row s of a parameter table: gradients with respect to Q are gradients with respect to the table."""

    def __init__(self, rows):
        super().__init__()
        self.table = nn.Parameter(torch.tensor(rows, dtype=torch.float64))

    def forward(self, states):
        return self.table[states[:, 0, 0, 0].long()]


def states(*indices):
    return torch.tensor(indices, dtype=torch.uint8).view(-1, 1, 1, 1)


def test_soft_target_is_reward_plus_discounted_soft_maximum():
    q_next = torch.tensor([[0.0, math.log(3.0)]])
    # τ log(e^0 + e^{ln 3 / τ}) with τ = 1: log 4
    target = losses.soft_q_target(torch.tensor([1.0]), torch.tensor([0.5]), q_next, 1.0)
    assert target.item() == pytest.approx(1.0 + 0.5 * math.log(4.0))
    assert losses.soft_policy(q_next, 1.0)[0].tolist() == pytest.approx([0.25, 0.75])
    assert losses.entropy(torch.tensor([[0.25, 0.75]])).item() == pytest.approx(
        -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))


def soft_settings(demo_loss):
    return replace(Settings.of(resolve("Pong", "soft_q", 0, {})["settings"]), entropy_temperature=TAU, td_loss="mse",
                   demo_loss=demo_loss, lambda_supervised=1.0, use_demos=demo_loss != "none", soft_q_pretrain_steps=100,
                   demo_share=0.0)


def batch(is_demo):
    # sample 0: state 0, action 1; sample 1: state 1, action 0; next states 2 and 3
    return Batch(states=states(0, 1), actions=torch.tensor([1, 0]), rewards_1=torch.tensor([1.0, 0.0]),
                 next_states_1=states(2, 3), discount_1=torch.tensor([0.5, 0.0]), returns_n=None, next_states_n=None,
                 discount_n=None, is_demo=torch.tensor(is_demo), weights=torch.tensor([1.0, 1.0]))


TABLE = [[0.0, 1.0], [2.0, 0.0], [0.0, 1.0], [5.0, 5.0]]


def test_soft_q_loss_is_the_squared_soft_td_error_on_agent_samples_only():
    net = TableQ(TABLE)
    out = ALGORITHMS["soft_q"](soft_settings("none")).loss(batch([False, False]), net, net)
    y_0 = 1.0 + 0.5 * TAU * math.log(math.exp(0.0) + math.exp(1.0 / TAU))
    y_1 = 0.0  # terminal: discount 0
    expected = (0.5 * (y_0 - 1.0) ** 2 + 0.5 * (y_1 - 2.0) ** 2) / 2
    assert out.total.item() == pytest.approx(expected)
    # with sample 1 a demonstration, only sample 0 is regressed (demonstrations carry no rewards)
    out = ALGORITHMS["soft_q"](soft_settings("none")).loss(batch([False, True]), net, net)
    assert out.total.item() == pytest.approx(0.5 * (y_0 - 1.0) ** 2)


def test_soft_q_weighs_agent_samples_by_importance_weight_and_returns_their_td_errors():
    net = TableQ(TABLE)
    weighted = batch([False, False])._replace(weights=torch.tensor([0.5, 2.0]))
    out = ALGORITHMS["soft_q"](soft_settings("none")).loss(weighted, net, net)
    y_0, y_1 = 1.0 + 0.5 * TAU * math.log(math.exp(0.0) + math.exp(1.0 / TAU)), 0.0
    assert out.total.item() == pytest.approx((0.5 * 0.5 * (y_0 - 1.0) ** 2 + 2.0 * 0.5 * (y_1 - 2.0) ** 2) / 2)
    assert out.td_errors.tolist() == pytest.approx([y_0 - 1.0, 2.0])  # |y − Q(s, a)|, the new priorities


def test_soft_q_bc_adds_the_cross_entropy_of_softmax_q_over_tau_on_demonstrations():
    net = TableQ(TABLE)
    out = ALGORITHMS["soft_q"](soft_settings("cross_entropy")).loss(batch([False, True]), net, net)
    y_0 = 1.0 + 0.5 * TAU * math.log(math.exp(0.0) + math.exp(1.0 / TAU))
    # demo state 1, Q = [2, 0], action 0: −log softmax([2, 0] / τ)[0]
    cross_entropy = math.log(1.0 + math.exp(-2.0 / TAU))
    assert out.total.item() == pytest.approx(0.5 * (y_0 - 1.0) ** 2 + cross_entropy)


def test_soft_q_bc_matched_has_g_q_s_scale_on_demonstrations_and_soft_q_bc_ten_times_it():
    """λ = τ (soft_q_bc_matched) turns the cross-entropy's gradient on Q, (π − onehot(a*))/τ, into −g_Q's (π stopped,
    α < 0): section 5 of the soft-Q paper, −∇η = ε∇ log π. soft_q_bc's λ = 1 is 1/τ times that."""
    rows, actions, is_demo = [[2.0, -1.0, 0.5], [0.0, 0.4, -0.3]], [1, 2], [True, True]
    gradient_q, alpha, _ = decoupled(rows, actions, is_demo)
    assert alpha < 0  # g_Q acts
    for weight, scale in ((TAU, 1.0), (1.0, 1.0 / TAU)):  # λ of soft_q_bc_matched, of soft_q_bc
        net = TableQ(rows + [[0.0, 0.0, 0.0]] * 2)  # rows 2 and 3: the batch's next states, unused by demo rows
        settings = replace(soft_settings("cross_entropy"), lambda_supervised=weight)
        demo_batch = batch(is_demo)._replace(actions=torch.tensor(actions))
        ALGORITHMS["soft_q"](settings).loss(demo_batch, net, net).total.backward()
        assert torch.allclose(net.table.grad[:2], scale * gradient_q)


def decoupled(rows, actions, is_demo):
    net = TableQ(rows)
    q = net(states(*range(len(rows))))
    policy = losses.soft_policy(q, TAU)
    flags = torch.tensor(is_demo, dtype=torch.float64)
    loss, alpha = SoftQ.decoupled_demo_loss(q, policy, torch.tensor(actions), flags, TAU)
    loss.backward()
    return net.table.grad, alpha.item(), policy.detach()


def test_decoupled_gradients_are_g_q_on_demonstrations_and_the_entropy_part_of_g_pi_on_agent_states():
    # Demo state 0 with the expert action 1 unlikely under π, agent state 1: α < 0, so g_Q acts.
    rows, actions, is_demo = [[2.0, -1.0, 0.5], [0.3, 0.0, -0.2]], [1, 0], [True, False]
    gradient, alpha, policy = decoupled(rows, actions, is_demo)
    pi_demo, pi_agent = policy[0], policy[1]
    entropy_agent = -(pi_agent * pi_agent.log()).sum()
    expected_alpha = TAU * pi_demo[1].log() + TAU * entropy_agent  # A_θ(s*, a*) = τ log π(a*|s*)
    assert alpha == pytest.approx(expected_alpha.item()) and alpha < 0
    # Demo row: the loss's gradient is −g_Q = −(onehot(a*) − π̄); g_π contributes nothing there (π is the soft
    # maximiser of Σ π Q̄ + τ h at Q̄ = Q).
    assert gradient[0].tolist() == pytest.approx((-(torch.eye(3)[1].double() - pi_demo)).tolist())
    # Agent row: only τ L_π's entropy term, τ · τ · ∂h/∂Q = −τ π (log π + h)
    expected_agent = -TAU * pi_agent * (pi_agent.log() + entropy_agent)
    assert gradient[1].tolist() == pytest.approx(expected_agent.tolist())


def test_soft_q_pretraining_adds_lambda_times_the_decoupled_demo_loss_to_the_td_loss():
    rows = [[2.0, -1.0], [0.3, 0.0], [0.0, 1.0], [5.0, 5.0]]  # sample 0 agent data, sample 1 a demonstration
    demo_batch = batch([False, True])

    def gradient(demo_loss, weight):
        net = TableQ(rows)
        settings = replace(soft_settings(demo_loss), lambda_supervised=weight)
        ALGORITHMS["soft_q"](settings).loss(demo_batch, net, net).total.backward()
        return net.table.grad

    # The batch's states are rows 0 and 1 (actions 1 and 0); rows 2 and 3, its next states, reach only the target.
    demo_only, _, _ = decoupled(rows[:2], [1, 0], [False, True])
    td_only, total = gradient("none", 1.0), gradient("decoupled", 0.7)
    assert torch.allclose(total[:2], td_only[:2] + 0.7 * demo_only) and not total[2:].any()


def test_the_alpha_gate_switches_g_q_off_once_the_constraint_holds():
    # The expert action is nearly certain under π and the agent state's policy is uniform: α > 0.
    rows, actions, is_demo = [[0.0, 9.0, 0.0], [0.0, 0.0, 0.0]], [1, 0], [True, False]
    gradient, alpha, _ = decoupled(rows, actions, is_demo)
    assert alpha > 0
    assert gradient[0].abs().max().item() < 1e-6  # no g_Q, and g_π is zero on demonstration states
    assert gradient[1].abs().max().item() < 1e-12  # uniform π: the entropy is at its maximum, its gradient zero


def test_pretraining_mixes_demonstrations_for_n_p_steps_then_uses_agent_data_only():
    algorithm = ALGORITHMS["soft_q"](soft_settings("decoupled"))
    assert algorithm.demo_share(0) == 0.5 and algorithm.demo_share(99) == 0.5
    assert algorithm.demo_share(100) == 0.0
    assert ALGORITHMS["soft_q"](soft_settings("none")).demo_share(0) is None


@pytest.mark.parametrize("method", ["soft_q", "soft_q_bc", "soft_q_pretrain"])
def test_soft_q_methods_learn_from_clipped_rewards_and_dqfd_from_the_signed_log(method):
    """The soft-Q paper trains on clipped rewards (section 5); DQfD on sign(r)·log(1+|r|). Both report raw scores."""
    import numpy as np

    from agents.cell import resolve, values
    from agents.replay import PrioritizedReplay

    def first_rewards(transform):
        replay = PrioritizedReplay(demo_capacity=0, agent_capacity=16, frame_shape=(2, 2), stack=4, n_step=2,
                                   gamma=0.5, reward_transform=transform, prioritized=False, alpha=0.4,
                                   bonus_agent=0.001, bonus_demo=1.0, rng=np.random.default_rng(0))
        replay.start_episode(np.zeros((2, 2), np.uint8))
        for step, reward in enumerate([5.0, -3.0, 0.5]):
            replay.add_step(0, reward, step == 2, np.full((2, 2), step + 1, np.uint8))
        replay.end_episode()
        batch = replay.assemble(np.arange(3), np.ones(3, dtype=np.float32))
        return batch.rewards_1.tolist(), batch.returns_n.tolist()

    transform = values(resolve("Pong", method, 0, {})["settings"])["reward_transform"]
    assert transform == "clip"
    rewards_1, returns_2 = first_rewards(transform)
    assert rewards_1 == pytest.approx([1.0, -1.0, 0.5])
    assert returns_2 == pytest.approx([1.0 - 0.5 * 1.0, -1.0 + 0.5 * 0.5, 0.5])  # γ = 0.5, cut at the terminal
    assert values(resolve("Pong", "dqfd", 0, {})["settings"])["reward_transform"] == "signed_log"
    assert first_rewards("signed_log")[0] == pytest.approx([math.log(6), -math.log(4), math.log(1.5)])
