"""Each loss term against a hand-computed example."""
import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from agents import losses
from agents.batch import Batch
from agents.cell import resolve
from agents.methods import ALGORITHMS
from agents.network import QNetwork
from agents.settings import Settings

PACKAGE = Settings.of(resolve("Pong", "dqfd", 0, {})["settings"])  # the defaults the examples change


def test_margin_loss_is_zero_when_expert_action_wins_by_the_margin():
    q = torch.tensor([[1.0, 2.0, 0.5]])
    # max(1 + 0.8, 2 + 0, 0.5 + 0.8) − Q(a_E = 1) = 2 − 2
    assert losses.margin_loss(q, torch.tensor([1]), 0.8).item() == pytest.approx(0.0)


def test_margin_loss_when_expert_action_is_argmax_but_within_the_margin():
    q = torch.tensor([[1.0, 1.5, 0.0]])
    # max(1.8, 1.5, 0.8) − 1.5
    assert losses.margin_loss(q, torch.tensor([1]), 0.8).item() == pytest.approx(0.3)


def test_margin_loss_when_expert_action_is_not_argmax():
    q = torch.tensor([[1.0, 2.0, 0.5]])
    # max(1 + 0, 2 + 0.8, 0.5 + 0.8) − Q(a_E = 0) = 2.8 − 1
    assert losses.margin_loss(q, torch.tensor([0]), 0.8).item() == pytest.approx(1.8)


def test_margin_loss_gradient_pushes_expert_up_and_rival_down():
    q = torch.tensor([[1.0, 2.0, 0.5]], requires_grad=True)
    losses.margin_loss(q, torch.tensor([0]), 0.8).sum().backward()
    assert q.grad.tolist() == [[-1.0, 1.0, 0.0]]


def test_double_q_target_uses_online_argmax_and_target_value():
    rewards = torch.tensor([1.0, 0.5])
    discounts = torch.tensor([0.99, 0.0])  # the second sample ended in a terminal
    q_next_online = torch.tensor([[1.0, 3.0], [2.0, 0.0]])  # argmax: 1, 0
    q_next_target = torch.tensor([[10.0, 20.0], [30.0, 40.0]])
    targets = losses.double_q_target(rewards, discounts, q_next_online, q_next_target)
    assert targets.tolist() == pytest.approx([1.0 + 0.99 * 20.0, 0.5])


def test_td_losses():
    q = torch.tensor([0.0, 0.0])
    y = torch.tensor([0.5, 2.0])
    assert losses.td_loss(q, y, "huber").tolist() == pytest.approx([0.5 * 0.25, 2.0 - 0.5])
    assert losses.td_loss(q, y, "mse").tolist() == pytest.approx([0.125, 2.0])
    with pytest.raises(ValueError):
        losses.td_loss(q, y, "l1")


def test_l2_loss_sums_squares_of_weights_and_biases():
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0]]))
        layer.bias.fill_(3.0)
    assert losses.l2_loss(layer).item() == pytest.approx(1 + 4 + 9)


def test_cross_entropy():
    logits = torch.tensor([[0.0, math.log(3.0)]])
    # softmax = (1/4, 3/4)
    assert losses.cross_entropy_loss(logits, torch.tensor([1])).item() == pytest.approx(-math.log(0.75))


class TableQ(nn.Module):
    """Q-values looked up by the first pixel of a state; one scalar parameter so the L2 term is known."""

    def __init__(self, table):
        super().__init__()
        self.table = torch.tensor(table)
        self.scale = nn.Parameter(torch.tensor(2.0))

    def forward(self, states):
        return self.table[states[:, 0, 0, 0].long()] * self.scale / 2.0

    def preferences(self, states):  # Q shifted by a constant per state, as the dueling advantages are
        q = self(states)
        return q - q.mean(dim=1, keepdim=True) + 7.0


def states(*indices):
    """A batch of 1×1×1 states whose one pixel is the row of `TableQ`'s table to look up."""
    return torch.tensor(indices, dtype=torch.uint8).view(-1, 1, 1, 1)


def _batch(is_demo):
    return Batch(states=states(0), actions=torch.tensor([0]), rewards_1=torch.tensor([1.0]), next_states_1=states(1),
                 discount_1=torch.tensor([0.5]), returns_n=torch.tensor([2.0]), next_states_n=states(2),
                 discount_n=torch.tensor([0.25]), is_demo=torch.tensor([is_demo]), weights=torch.tensor([0.5]))


SETTINGS = replace(PACKAGE, td_loss="mse", margin=0.8, lambda_n_step=1.0, lambda_supervised=1.0, lambda_l2=1e-2,
                   priority_td_error="n_step", supervised_loss="margin", double_q=True)


@pytest.mark.parametrize("is_demo", [True, False])
def test_dqfd_total_combines_the_four_terms(is_demo):
    # Q(s) = [1, 2]; online and target nets agree: Q(s1) = [0, 4] → a* = 1, Q(sn) = [8, 0] → a* = 0.
    net = TableQ([[1.0, 2.0], [0.0, 4.0], [8.0, 0.0]])
    out = ALGORITHMS["dqfd"](SETTINGS).loss(_batch(is_demo), net, net)
    y_1, y_n = 1.0 + 0.5 * 4.0, 2.0 + 0.25 * 8.0  # 3, 4
    j_dq, j_n = 0.5 * (y_1 - 1.0) ** 2, 0.5 * (y_n - 1.0) ** 2  # 2, 4.5
    j_e = (2.0 + 0.8) - 1.0 if is_demo else 0.0  # expert action 0: max(1 + 0, 2 + 0.8) − 1; none on agent data
    expected = 0.5 * (j_dq + j_n + j_e) + 1e-2 * 2.0**2
    assert out.total.item() == pytest.approx(expected)
    assert out.td_errors.tolist() == pytest.approx([y_n - 1.0])


def _two_rows():
    """Row 0, a demonstration: `_batch`'s row. Row 1, agent data: state 3 (Q = [3, 1]), action 1, next states 4
    (Q = [0, 2]) and 5 (Q = [6, 2]). Importance weights 0.5 and 2."""
    return Batch(states=states(0, 3), actions=torch.tensor([0, 1]), rewards_1=torch.tensor([1.0, 0.0]),
                 next_states_1=states(1, 4), discount_1=torch.tensor([0.5, 0.9]), returns_n=torch.tensor([2.0, 1.5]),
                 next_states_n=states(2, 5), discount_n=torch.tensor([0.25, 0.5]), is_demo=torch.tensor([True, False]),
                 weights=torch.tensor([0.5, 2.0]))


TWO_ROW_TABLE = [[1.0, 2.0], [0.0, 4.0], [8.0, 0.0], [3.0, 1.0], [0.0, 2.0], [6.0, 2.0]]


@pytest.mark.parametrize("priority", ["n_step", "one_step"])
def test_dqfd_weighs_its_terms_by_lambda_and_its_samples_by_importance_weight(priority):
    net = TableQ(TWO_ROW_TABLE)
    settings = replace(SETTINGS, lambda_n_step=0.3, lambda_supervised=0.7, priority_td_error=priority)
    out = ALGORITHMS["dqfd"](settings).loss(_two_rows(), net, net)
    # Row 0: Q = 1, y_1 = 3, y_n = 4: J_DQ = 2, J_n = 4.5, J_E = 1.8 (as above).
    # Row 1: Q = 1, y_1 = 0 + 0.9 · 2 = 1.8, y_n = 1.5 + 0.5 · 6 = 4.5: J_DQ = 0.32, J_n = 6.125; no J_E on agent data
    # (its margin would be 3 + 0.8 − 1 = 2.8).
    per_sample = [2.0 + 0.3 * 4.5 + 0.7 * 1.8, 0.32 + 0.3 * 6.125]
    assert out.total.item() == pytest.approx((0.5 * per_sample[0] + 2.0 * per_sample[1]) / 2 + 1e-2 * 2.0**2)
    assert out.td_errors.tolist() == pytest.approx([4.0 - 1.0, 4.5 - 1.0] if priority == "n_step" else [2.0, 0.8])
    assert out.metrics["loss_supervised"].item() == pytest.approx(1.8)  # the mean over demonstration rows


def test_plain_dqn_is_one_step_max_q_without_double_q():
    # The online net would pick a* = 0 at s1 (its Q(s1) = [5, 1]); the target net's max is 4, which plain DQN takes.
    online, target = TableQ([[1.0, 2.0], [5.0, 1.0], [8.0, 0.0]]), TableQ([[1.0, 2.0], [0.0, 4.0], [8.0, 0.0]])
    settings = replace(SETTINGS, lambda_n_step=0.0, lambda_supervised=0.0, lambda_l2=0.0, double_q=False)
    out = ALGORITHMS["dqfd"](settings).loss(_batch(False), online, target)
    y_1 = 1.0 + 0.5 * 4.0
    assert out.total.item() == pytest.approx(0.5 * 0.5 * (y_1 - 1.0) ** 2)
    assert out.td_errors.tolist() == pytest.approx([y_1 - 1.0])  # no n-step target: the 1-step error
    double = ALGORITHMS["dqfd"](replace(settings, double_q=True)).loss(_batch(False), online, target)
    assert double.td_errors.tolist() == pytest.approx([1.0 + 0.5 * 0.0 - 1.0])  # a* = 0 scored by the target: 0


@pytest.mark.parametrize("is_demo", [True, False])
def test_adet_replaces_the_margin_by_cross_entropy_on_demonstrations_only(is_demo):
    net = TableQ([[1.0, 2.0], [0.0, 4.0], [8.0, 0.0]])
    out = ALGORITHMS["dqfd"](replace(SETTINGS, supervised_loss="cross_entropy")).loss(_batch(is_demo), net, net)
    j_dq, j_n = 2.0, 4.5  # as above
    # softmax([1, 2]) of the expert action 0: e / (e + e²) = 1 / (1 + e)
    j_e = math.log(1.0 + math.e) if is_demo else 0.0
    assert out.total.item() == pytest.approx(0.5 * (j_dq + j_n + j_e) + 1e-2 * 2.0**2)


def test_bc_total_is_weighted_cross_entropy_plus_l2():
    # softmax(Q) of action 1: 3/4 in state 0, 1/4 in state 1; importance weights 0.5 and 2.
    net = TableQ([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])
    batch = _batch(False)._replace(states=states(0, 1), actions=torch.tensor([1, 1]), weights=torch.tensor([0.5, 2.0]))
    out = ALGORITHMS["bc"](replace(PACKAGE, lambda_l2=1e-2)).loss(batch, net, net)
    assert out.total.item() == pytest.approx((0.5 * -math.log(0.75) + 2.0 * -math.log(0.25)) / 2 + 1e-2 * 4.0)
    assert out.td_errors is None


@pytest.mark.parametrize("dueling", [True, False])
def test_network_preferences_choose_and_weigh_actions_as_q_does(dueling):
    torch.manual_seed(0)
    net = QNetwork(num_actions=6, dueling=dueling)
    frames = torch.randint(0, 256, (16, 4, 84, 84), dtype=torch.uint8)
    with torch.no_grad():
        q, preferences = net(frames), net.preferences(frames)
    assert torch.equal(q.argmax(dim=1), preferences.argmax(dim=1))
    assert torch.allclose(torch.softmax(q / 0.1, dim=1), torch.softmax(preferences / 0.1, dim=1), atol=1e-6)
    if dueling:  # the value stream shifts every action of a state by the same amount
        shift = q - preferences
        assert torch.allclose(shift, shift[:, :1].expand_as(shift), atol=1e-6)


def test_the_network_never_writes_into_the_frames_it_is_given():
    """It scales its own copy of the frames in place: a float channels-last input of one frame (frame_stack 1), which
    a conversion without copy would hand back as the same storage, stays as it was."""
    frames = torch.rand(2, 1, 84, 84).contiguous(memory_format=torch.channels_last)
    given = frames.clone()
    QNetwork(num_actions=6, stack=1)(frames)
    assert torch.equal(frames, given)


def test_mixed_precision_keeps_q_values_in_float32_and_close_to_full_precision():
    torch.manual_seed(0)
    full = QNetwork(num_actions=6)
    mixed = QNetwork(num_actions=6, mixed_precision=True)
    mixed.load_state_dict(full.state_dict())
    frames = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    q_full, q_mixed = full(frames), mixed(frames)
    assert q_mixed.dtype == torch.float32
    assert not torch.equal(q_mixed, q_full)  # the convolutions did run in bfloat16
    assert torch.allclose(q_mixed, q_full, atol=0.02 * q_full.abs().max().item())
    q_mixed.sum().backward()  # gradients reach the float32 weights through the bfloat16 torso
    assert mixed.torso[0].weight.grad.dtype == torch.float32 and mixed.torso[0].weight.grad.abs().sum() > 0


# Ape-X DQfD (Pohlen et al. 2018): the value transform, the transformed target, the temporal-consistency loss.
def h(x, epsilon=0.01):
    return math.copysign(math.sqrt(abs(x) + 1) - 1, x) + epsilon * x


def test_value_transform_and_its_inverse_by_hand_and_round_trip():
    # h(3) = √4 − 1 + 0.03, h(8) = √9 − 1 + 0.08, h(−3) = −h(3), h(0) = 0
    x = torch.tensor([3.0, 8.0, -3.0, 0.0], dtype=torch.float64)
    assert losses.value_transform(x, 0.01).tolist() == pytest.approx([1.03, 2.08, -1.03, 0.0])
    # h⁻¹(1.03) = ((√(1 + 0.04 · 2.04) − 1) / 0.02)² − 1 = ((1.04 − 1) / 0.02)² − 1 = 3
    assert losses.value_transform_inverse(torch.tensor([1.03, -2.08], dtype=torch.float64), 0.01).tolist() \
        == pytest.approx([3.0, -8.0])
    values = torch.cat([torch.linspace(-1e4, 1e4, 2001, dtype=torch.float64), torch.linspace(-2, 2, 401).double()])
    for epsilon in (0.01, 1e-3):
        there_and_back = losses.value_transform_inverse(losses.value_transform(values, epsilon), epsilon)
        assert (there_and_back - values).abs().max().item() < 1e-6
        back_and_there = losses.value_transform(losses.value_transform_inverse(values, epsilon), epsilon)
        assert (back_and_there - values).abs().max().item() < 1e-6


def test_transformed_target_goes_back_through_h_inverse_adds_the_return_and_shrinks_again():
    rewards = torch.tensor([6.5, 3.0, 1.0])
    discounts = torch.tensor([0.5, 0.0, 0.9])  # the second sample ended in a terminal
    q_next_online = torch.tensor([[0.0, 1.0], [1.0, 0.0], [5.0, 0.0]])  # a* = 1, 0, 0
    q_next_target = torch.tensor([[9.0, 1.03], [7.0, 7.0], [-1.03, 4.0]])  # h⁻¹ of a*'s value: 3, (unused), −3
    targets = losses.transformed_double_q_target(rewards, discounts, q_next_online, q_next_target, 0.01)
    # h(6.5 + 0.5 · 3) = h(8) = 2.08; a terminal: h(3) = 1.03; h(1 + 0.9 · (−3)) = h(−1.7)
    assert targets.tolist() == pytest.approx([2.08, 1.03, h(-1.7)], rel=1e-5)  # float32: 1.03 is not exact


def test_temporal_consistency_loss_and_its_gradient_by_hand():
    # a* is the online network's argmax at s' (1), not the target's (2): L(Q(s', 1) − Q_target(s', 1)) = L(4 − 1.5)
    q_next_online = torch.tensor([[1.0, 4.0, 0.0], [0.2, 0.0, 0.5]], requires_grad=True)
    q_next_target = torch.tensor([[0.0, 1.5, 9.0], [0.0, 0.0, 0.1]])
    actions = q_next_online.detach().argmax(dim=1)
    tc = losses.temporal_consistency_loss(q_next_online, q_next_target, actions, "huber")
    # Huber: 2.5 − 0.5 beyond 1; 0.5 · 0.4² within it
    assert tc.tolist() == pytest.approx([2.0, 0.08])
    tc.sum().backward()
    # Only Q(s', a*) moves, toward the target's value: ∂L/∂Q = sign(2.5) = 1, then the error 0.4 itself.
    torch.testing.assert_close(q_next_online.grad, torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.4]]))
    mse = losses.temporal_consistency_loss(q_next_online, q_next_target, actions, "mse")
    assert mse.tolist() == pytest.approx([0.5 * 2.5**2, 0.5 * 0.4**2])


APEX = replace(PACKAGE, td_loss="mse", margin=0.8, lambda_n_step=1.0, lambda_supervised=1.0,
               lambda_temporal_consistency=0.5, value_transform_epsilon=0.01, priority_td_error="n_step")


@pytest.mark.parametrize("is_demo", [True, False])
def test_apex_dqfd_total_combines_transformed_td_temporal_consistency_and_margin(is_demo):
    # Q(s) = [1, 2], a = 0. Online Q(s1) = [0, 4] → a* = 1, Q(sn) = [8, 0] → a* = 0; the target scores them
    # 1.03 = h(3) and 2.08 = h(8).
    online = TableQ([[1.0, 2.0], [0.0, 4.0], [8.0, 0.0]])
    target = TableQ([[1.0, 2.0], [0.0, 1.03], [2.08, 0.0]])
    out = ALGORITHMS["apex_dqfd"](APEX).loss(_batch(is_demo), online, target)
    y_1, y_n = h(1.0 + 0.5 * 3.0), h(2.0 + 0.25 * 8.0)
    td = 0.5 * (y_1 - 1.0) ** 2 + 0.5 * (y_n - 1.0) ** 2
    tc = 0.5 * (4.0 - 1.03) ** 2 + 0.5 * (8.0 - 2.08) ** 2
    j_e = (2.0 + 0.8) - 1.0 if is_demo else 0.0  # expert samples only
    assert out.total.item() == pytest.approx(0.5 * (td + 0.5 * tc + j_e), rel=1e-5)  # weight 0.5, no L2
    assert out.td_errors.tolist() == pytest.approx([y_n - 1.0], rel=1e-5)
    # The TC term's gradient reaches the online network through its next-state values (here its one parameter).
    online.scale.grad = None
    out.total.backward()
    without_tc = ALGORITHMS["apex_dqfd"](replace(APEX, lambda_temporal_consistency=0.0)).loss(_batch(is_demo), online,
                                                                                        target)
    grad_with = online.scale.grad.item()
    online.scale.grad = None
    without_tc.total.backward()
    # d/dscale of 0.5 · 0.5 · [½(4·scale/2 − 1.03)² + ½(8·scale/2 − 2.08)²] at scale 2: 0.25 · (2.97 · 2 + 5.92 · 4)
    assert grad_with - online.scale.grad.item() == pytest.approx(0.25 * (2.97 * 2.0 + 5.92 * 4.0), rel=1e-5)


def test_apex_dqfd_weighs_both_n_step_terms_by_lambda_1_and_the_margin_by_lambda_2():
    online = TableQ([[1.0, 2.0], [0.0, 4.0], [8.0, 0.0]])
    target = TableQ([[1.0, 2.0], [0.0, 1.03], [2.08, 0.0]])
    settings = replace(APEX, lambda_n_step=0.3, lambda_supervised=0.7)
    out = ALGORITHMS["apex_dqfd"](settings).loss(_batch(True), online, target)
    td_1, td_n = 0.5 * (h(1.0 + 0.5 * 3.0) - 1.0) ** 2, 0.5 * (h(2.0 + 0.25 * 8.0) - 1.0) ** 2
    tc_1, tc_n = 0.5 * (4.0 - 1.03) ** 2, 0.5 * (8.0 - 2.08) ** 2
    expected = 0.5 * (td_1 + 0.3 * td_n + 0.5 * (tc_1 + 0.3 * tc_n) + 0.7 * ((2.0 + 0.8) - 1.0))
    assert out.total.item() == pytest.approx(expected, rel=1e-5)
