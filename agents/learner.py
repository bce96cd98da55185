"""The learner: what a method learns with and how it learns (Dopamine's agent). It holds the online and target
Q-networks, the optimiser, the method's algorithm and the replay, and owns the update with its schedules: importance
weights annealed from priority_beta0 to 1 over the run's planned updates, the algorithm's learning rate and demo share,
priorities from the TD errors, the target network's sync. The replay is its own: the run hands it demonstrations and
the episodes it plays (begin_episode, observe, end_episode) and never touches the replay. It knows nothing of
emulators, phases, files or evaluation: `agents/run.py` drives it.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from .batch import Batch
from .errors import NonFiniteError
from .methods import ALGORITHMS, LossOutput, epsilon_greedy
from .network import QNetwork
from .numerics import onednn_isa
from .replay import PrioritizedReplay
from .settings import Settings


def pick_device(name: str, numerics: str = "native") -> torch.device:
    """auto: CUDA when torch finds a GPU, else the CPU, and always the CPU under portable numerics (which pin CPU
    kernels); otherwise the device named (cpu, cuda, cuda:N)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and numerics == "native" else "cpu")
    return torch.device(name)


COMPILE_FROM_UPDATES = 20_000  # compile: auto compiles runs this long; the compile's seconds are then a small share


def compiles(settings: Settings, planned_updates: int) -> bool:
    """Whether a run with these settings and this many planned updates compiles its loss (the `compile` setting).
    auto leaves a run with portable numerics eager: the compiled kernels are generated for the CPU at hand."""
    choice = settings.compile
    return choice == "always" or (choice == "auto" and settings.numerics == "native"
                                  and planned_updates >= COMPILE_FROM_UPDATES)


def native_bfloat16(device: torch.device) -> bool:
    """Whether the device computes bfloat16 in hardware: a CUDA GPU from Ampere on (or a ROCm one), a CPU whose
    convolutions oneDNN generates with AVX-512 BF16 or AMX. Elsewhere bfloat16 is emulated, slower than float32."""
    if device.type == "cuda":
        return torch.version.hip is not None or torch.cuda.get_device_capability(device)[0] >= 8
    if device.type == "cpu":
        # What oneDNN generates, not what the CPU has: a cap (ONEDNN_MAX_CPU_ISA=AVX2, say) holds it below the CPU.
        return "bfloat16" in onednn_isa()
    return False


def computes_bfloat16(settings: Settings, compiled: bool, device: torch.device) -> bool:
    """Whether a run's convolutions compute in bfloat16 (the `mixed_precision` setting): auto where its loss
    compiles (a long run with native numerics, `compiles`) and the device computes bfloat16 natively."""
    choice = settings.mixed_precision
    return choice == "always" or (choice == "auto" and compiled and native_bfloat16(device))


class Learner:
    """`settings` and `protocol`: a cell's resolved values; `rng`: the generator of replay sampling and of the
    behaviour policy's random choices (the run checkpoints it with its own state); `demo_capacity` and
    `agent_capacity`: the replay's partitions; `planned_updates`: the updates the run will make (agents/rules.py),
    the horizon of the importance-weight annealing."""

    def __init__(self, algorithm: str, settings: Settings, protocol: dict, num_actions: int, device: torch.device,
                 rng: np.random.Generator, demo_capacity: int, agent_capacity: int, planned_updates: int):
        s = self.settings = settings
        self.device, self.rng, self.num_actions = device, rng, num_actions
        self.compiled = compiles(s, planned_updates)
        self.bfloat16 = computes_bfloat16(s, self.compiled, device)
        self.online = QNetwork(num_actions, protocol["frame_stack"], protocol["screen_size"], s.dueling,
                               self.bfloat16).to(device, memory_format=torch.channels_last)
        self.target = copy.deepcopy(self.online).requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.online.parameters(), lr=s.learning_rate, eps=s.adam_eps,
                                          fused=True)
        self.algorithm = ALGORITHMS[algorithm](s)
        # Compiling the loss function, not the networks, leaves the modules, their state_dict keys and checkpoints as
        # they are; the fused kernels change the floating-point order, so a compiled run differs from an eager one in
        # the last bits (the setting is recorded with the run), while two compiled runs on one machine agree.
        prepare = (lambda loss: torch.compile(loss, dynamic=False)) if self.compiled else (lambda loss: loss)
        pretraining, interaction = self.algorithm.phase_losses()
        self.interaction_loss = prepare(interaction)
        # One compiled function where both phases share the loss; the loss of the phase the run is in.
        self.loss = self.interaction_loss if pretraining == interaction else prepare(pretraining)
        self.replay = PrioritizedReplay(
            demo_capacity=demo_capacity,
            agent_capacity=agent_capacity,
            frame_shape=(protocol["screen_size"], protocol["screen_size"]),
            stack=protocol["frame_stack"],
            n_step=self.algorithm.n_step(),
            gamma=s.gamma,
            reward_transform=s.reward_transform,
            prioritized=s.prioritized,
            alpha=s.priority_alpha,
            bonus_agent=s.priority_bonus_agent,
            bonus_demo=s.priority_bonus_demo,
            rng=rng,
        )
        self.updates = 0  # gradient steps so far, in both phases
        self.total_updates = max(1, planned_updates)  # the horizon of the importance-weight annealing

    # ------------------------------------------------------------------------------------ what it learns from
    def add_demonstrations(self, frames: np.ndarray, actions: np.ndarray, rewards: np.ndarray, terminals: np.ndarray,
                           has_action: np.ndarray, episode_step: np.ndarray, permanent: bool = True) -> None:
        """Demonstrations (a demo file's arrays, agents/demos/files.py) into the replay: kept apart and never
        overwritten (`permanent`, DQfD), or as its first agent data, overwritten like any other (replay buffer
        spiking)."""
        self.replay.add_demonstrations(frames, actions, rewards, terminals, has_action, episode_step, permanent)

    def begin_episode(self, frame: np.ndarray) -> None:
        """An interaction episode starts from `frame`, the emulator's first observation."""
        self.replay.start_episode(frame)

    def observe(self, action: int, reward: float, terminal: bool, next_frame: np.ndarray) -> None:
        """One agent step of the episode: the action taken in the current frame (for DAgger, the demonstrator's label
        of it), the raw reward, whether the step ended in a true terminal, and the frame it led to."""
        self.replay.add_step(action, reward, terminal, next_frame)

    def end_episode(self) -> None:
        """The episode is over (a terminal or a time limit): its last steps become sampleable with what look-ahead
        they have."""
        self.replay.end_episode()

    def demonstration_count(self) -> int:
        """Transitions of the demonstrations kept apart (none where they became agent data, replay buffer
        spiking)."""
        return self.replay.demonstration_count()

    def demonstrations(self, which: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The stacked states of the demonstration transitions numbered `which` (0 to demonstration_count − 1, in
        recorded order) and the demonstrator's actions in them."""
        return self.replay.demonstrations(which)

    # ---------------------------------------------------------------------------------------------------- acting
    def preferences(self, states: np.ndarray) -> torch.Tensor:
        """The online network's scores with Q's argmax and softmax (agents/network.py) for a batch of stacked
        states, in one forward pass."""
        with torch.no_grad():
            return self.online.preferences(torch.as_tensor(states, device=self.device))

    def act(self, states: np.ndarray, agent_step: int) -> np.ndarray:
        """One action per state, as the method acts while it learns (its algorithm's behaviour policy)."""
        return self.algorithm.act(states, self.preferences, self.rng, agent_step, self.num_actions)

    def act_greedy(self, states: np.ndarray, epsilon: float, rng: np.random.Generator) -> np.ndarray:
        """One action per state for evaluation: greedy, with a random action at probability `epsilon`, whatever the
        method's behaviour policy. `rng`: evaluation's own generator, so that it never shifts the training stream."""
        return epsilon_greedy(states, self.preferences, rng, epsilon, self.num_actions)

    def epsilon(self, agent_step: int) -> float:
        """The exploration ε of the algorithm's schedule at this agent step (recorded with each episode)."""
        return self.algorithm.epsilon(agent_step)

    def expert_acts(self, agent_step: int) -> bool:
        """Whether the demonstrator, not the learner, acts at this agent step (DAgger's β_i, drawn from the learner's
        generator)."""
        return self.algorithm.expert_acts(agent_step, self.rng)

    def updates_after(self, agent_step: int) -> int:
        """Updates due once agent step `agent_step` (counted from 0) has been played (the algorithm's schedule)."""
        return self.algorithm.updates_after(agent_step)

    def begin_interaction(self) -> None:
        """From here on the updates use the interaction phase's loss (the same as phase I's unless the method switches,
        pretrain & finetune). The run calls it whenever it enters or resumes its interaction."""
        self.loss = self.interaction_loss

    # --------------------------------------------------------------------------------------------------- updating
    def update(self, agent_step: int) -> dict[str, torch.Tensor]:
        """One update on a batch from the replay; returns its metrics (detached scalars, left on the device)."""
        s = self.settings
        slots, batch = self.replay.sample(s.batch_size, self.beta(), self.algorithm.demo_share(agent_step))
        for group in self.optimizer.param_groups:
            group["lr"] = self.algorithm.learning_rate(agent_step)
        out = self.gradient_step(batch.to(self.device))
        # Read back only once the whole update is queued, so that on a GPU it runs without the host waiting midway.
        # A non-finite loss has then been stepped on, but the run stops here and no checkpoint is taken after it.
        if not torch.isfinite(out.total):
            raise NonFiniteError(f"non-finite loss {out.total.item()} at update {self.updates} (agent step "
                                 f"{agent_step}); lower learning_rate or check the reward transform")
        if out.td_errors is not None and self.replay.prioritized:
            self.replay.update_priorities(slots, out.td_errors.cpu().numpy())
        self.updates += 1
        if self.updates % s.target_update_period == 0:
            self.target.load_state_dict(self.online.state_dict())
        return out.metrics

    def beta(self) -> float:
        """β of the importance weights for the next update: priority_beta0 at the first update, rising linearly to
        exactly 1 at the run's last planned update (Schaul et al. 2016 anneal it to 1 by the end of learning)."""
        beta0, last = self.settings.priority_beta0, self.total_updates - 1
        return beta0 + (1.0 - beta0) * min(1.0, self.updates / last) if last > 0 else beta0

    def gradient_step(self, batch: Batch) -> LossOutput:
        """One optimiser step of the method's loss on a batch already on the device: the update without the replay
        (the speed benchmark times it alone as the method's ceiling)."""
        out = self.loss(batch, self.online, self.target)
        self.optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        torch.nn.utils.clip_grad_norm_(self.online.parameters(), self.settings.grad_clip_norm)
        self.optimizer.step()
        return out

    # ------------------------------------------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything later updates depend on, but the random generators, which the run owns and saves; with the
        precision `mixed_precision: auto` resolved to on the machine that started the run."""
        return {"updates": self.updates, "online": self.online.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "replay": self.replay.state_dict(),
                "bfloat16": self.bfloat16}

    def load_state_dict(self, state: dict) -> None:
        # A run resumed on another machine (a cluster node without native bfloat16, say) keeps the precision it
        # started in; a checkpoint written before the key existed ran float32 unless the setting said always.
        self.bfloat16 = state.get("bfloat16", self.settings.mixed_precision == "always")
        self.online.mixed_precision = self.target.mixed_precision = self.bfloat16
        self.updates = state["updates"]
        self.online.load_state_dict(state["online"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.replay.load_state_dict(state["replay"])
