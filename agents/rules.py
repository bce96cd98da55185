"""The rules that tie settings together, checked on every resolved cell (agents/cell.py) before any compute; each
algorithm adds its own (agents/methods). docs/settings.md states them. Also what the rules and the run both count: the
updates a run makes.
"""
from __future__ import annotations

from collections.abc import Callable

from .settings import Settings
from .torso import smallest_screen


# Rules across settings, checked on every resolved cell. A check gets the cell's Settings and protocol values, the
# method and its algorithm, and returns what is wrong and the fix, or None.
RULES: list[tuple[str, Callable]] = []


def _rule(statement: str):
    """Registers a rule; `statement` is how docs/settings.md states it ({smallest_screen} is filled in there)."""
    def register(check):
        RULES.append((statement, check))
        return check

    return register


def rule_statements() -> list[str]:
    """The suite's rules, then those each algorithm adds (agents/methods), as docs/settings.md states them."""
    from .methods import ALGORITHMS

    own = [rule for algorithm in ALGORITHMS.values() for rule in algorithm.rules]
    return [statement.format(smallest_screen=smallest_screen()) for statement, _ in RULES] + list(dict.fromkeys(own))


@_rule("screen_size is at least {smallest_screen}, the smallest frame the Q-network's convolutions reduce to a "
       "feature (computed from agents/torso.py)")
def _screen_fits_the_network(s, p, method, algorithm):
    if p["screen_size"] < smallest_screen():
        return (f"screen_size={p['screen_size']} is smaller than the {smallest_screen()} pixels the Q-network's "
                f"convolutions need (agents/torso.py); set screen_size to at least {smallest_screen()} under "
                "protocol_overrides")


@_rule("a run updates its network: pretrain_updates > 0, or an update step (a multiple of update_period) from "
       "learning_starts on comes before agent_steps")
def _makes_updates(s, p, method, algorithm):
    from .methods import ALGORITHMS

    if s.pretrain_updates > 0:
        return None
    if s.agent_steps == 0:
        return f"method {method!r} has neither pretrain_updates nor agent_steps; set one above 0"
    if ALGORITHMS[algorithm].interaction_updates(s) > 0:  # by the algorithm's own schedule (DAgger's iterations)
        return None
    first = _multiples_below(s.learning_starts, s.update_period) * s.update_period
    if first >= s.agent_steps:
        return (f"method {method!r} never updates its network: pretrain_updates is 0 and its first update would come "
                f"at agent step {first} (learning_starts={s.learning_starts}, update_period={s.update_period}), "
                f"not before agent_steps={s.agent_steps}; lower learning_starts or raise agent_steps")


@_rule("pretraining needs demonstrations: use_demos when pretrain_updates > 0")
def _pretraining_has_demos(s, p, method, algorithm):
    if s.pretrain_updates > 0 and not s.use_demos:
        return f"method {method!r} pretrains without demonstrations; set use_demos or pretrain_updates: 0"


@_rule("demo_share > 0 and demos_overwritable need use_demos")
def _demo_mixing_has_demos(s, p, method, algorithm):
    if (s.demo_share > 0 or s.demos_overwritable) and not s.use_demos:
        return (f"method {method!r} sets demo_share or demos_overwritable without demonstrations; "
                "set use_demos: true")


@_rule("overwritable demonstrations become agent data: with demos_overwritable, pretrain_updates = 0 and "
       "demo_share = 0")
def _overwritable_demos_are_agent_data(s, p, method, algorithm):
    if s.demos_overwritable and (s.pretrain_updates > 0 or s.demo_share > 0):
        return (f"method {method!r} has overwritable demonstrations, which cannot be pretrained on or mixed at a "
                "fixed share (they become agent data); set pretrain_updates: 0 and demo_share: 0")


@_rule("pretrain_eval_updates increase, each at most pretrain_updates")
def _pretrain_ladder(s, p, method, algorithm):
    ladder, pretrain = list(s.pretrain_eval_updates), s.pretrain_updates
    if not all(low < high for low, high in zip([0] + ladder, ladder + [pretrain + 1])):
        return (f"pretrain_eval_updates={ladder!r} of method {method!r} must be a list of increasing update counts "
                f"between 1 and pretrain_updates={pretrain}")


@_rule("a greedy evaluation during interaction falls within it: interaction_eval_every <= agent_steps when both are "
       "above 0")
def _interaction_evaluations(s, p, method, algorithm):
    every, steps = s.interaction_eval_every, s.agent_steps
    if every > 0 and steps > 0 and every > steps:
        return (f"interaction_eval_every={every} of method {method!r} is longer than its agent_steps={steps}, so its "
                f"interaction would never be evaluated; set interaction_eval_every to at most {steps}, or 0 for none")


@_rule("a run that interacts keeps its transitions: replay_capacity > 0 when agent_steps > 0")
def _replay_holds_the_interaction(s, p, method, algorithm):
    if s.agent_steps > 0 and s.replay_capacity == 0:
        return (f"method {method!r} interacts for agent_steps={s.agent_steps} but replay_capacity=0 keeps none of "
                "its transitions; raise replay_capacity, or set agent_steps: 0 for a run that never interacts")


@_rule("a batch fits in the replay: batch_size <= replay_capacity when agent_steps > 0")
def _batch_fits_the_replay(s, p, method, algorithm):
    if s.agent_steps > 0 and s.batch_size > s.replay_capacity:
        return (f"batch_size={s.batch_size} of method {method!r} exceeds replay_capacity={s.replay_capacity}: "
                "each batch would repeat the few transitions the replay holds; lower batch_size or raise "
                "replay_capacity")


def _look_ahead(s, algorithm: str) -> tuple[int, int | None]:
    """The agent steps an agent transition's target reads, its own included: it becomes sampleable once they are all
    played (agents/replay.py); and the n of the n-step return the algorithm's loss reads, or None where it reads none
    (a look-ahead of one step: the transition itself)."""
    from .methods import ALGORITHMS

    n_step = ALGORITHMS[algorithm](s).n_step()
    return n_step or 1, n_step


def _sampleable(s, look_ahead: int) -> int:
    """The fewest agent transitions the replay can sample at the first interaction update, which comes after agent
    step learning_starts (counted from 0) or later: learning_starts + 1 steps played, all but the last look_ahead − 1
    of them sampleable (those still wait, unless an episode ended)."""
    return max(0, s.learning_starts + 2 - look_ahead)


def _waits(n_step: int | None) -> str:
    """When a transition becomes sampleable, as a message states it."""
    return (f"each once the n_step={n_step} steps its return reads are played" if n_step else
            "each once played, its loss reading no n-step return")


@_rule("without demonstrations, interaction updates wait for a transition to sample: learning_starts >= n_step − 1 "
       "where the loss reads the n-step return (the first update comes after agent step learning_starts, counted from "
       "0, and a transition is sampleable once the n steps its return reads are played) when use_demos is false and "
       "agent_steps > 0")
def _something_to_sample(s, p, method, algorithm):
    look_ahead, n_step = _look_ahead(s, algorithm)
    if not s.use_demos and s.agent_steps > 0 and _sampleable(s, look_ahead) < 1:
        return (f"method {method!r} has no demonstrations, and its replay holds a transition to learn from only once "
                f"n_step={n_step} agent steps are played, and its first update can come after agent step "
                f"learning_starts={s.learning_starts} (counted from 0), {s.learning_starts + 1} played; set "
                f"learning_starts to at least {look_ahead - 1}")


@_rule("a fixed demo share draws its agent part from agent data: when the algorithm fixes the demonstrations' share "
       "of a batch at its first interaction update, the replay holds the batch's agent part (batch_size − "
       "round(share · batch_size)) by then: learning_starts + 2 − the look-ahead (n_step where the loss reads the "
       "n-step return, else 1) >= that part; with a share of 0 (agent data alone, as pretrain & finetune), "
       ">= 1, as without demonstrations")
def _fixed_share_has_agent_data(s, p, method, algorithm):
    from .methods import ALGORITHMS

    share = ALGORITHMS[algorithm](s).demo_share(s.learning_starts) if s.agent_steps > 0 else None
    if share is None:  # by priority
        return None
    # A share above 0 needs the batch's agent part: fewer and batches repeat a few of them, none and the batch is
    # demonstrations alone (agents/replay.py). A share of 0 needs one, as a run without demonstrations does: none,
    # and the batch would be demonstrations after all.
    look_ahead, n_step = _look_ahead(s, algorithm)
    part = s.batch_size - round(share * s.batch_size)
    if share == 0:
        if _sampleable(s, look_ahead) < 1:
            return (f"method {method!r} learns from agent data alone once it interacts, but its first update after "
                    f"agent step learning_starts={s.learning_starts} would find no agent transition sampleable "
                    f"({_waits(n_step)}) and draw demonstrations instead; set learning_starts to at least "
                    f"{look_ahead - 1}")
        return None
    if _sampleable(s, look_ahead) < part:
        return (f"method {method!r} draws a share {share} of each batch from the demonstrations, but its first update "
                f"after agent step learning_starts={s.learning_starts} would find fewer than the batch's {part} agent "
                f"transitions sampleable ({_waits(n_step)}); set learning_starts to at least "
                f"{part + look_ahead - 2}")


@_rule("an ε that changes has a schedule: epsilon_decay_steps > 0 when epsilon_start differs from epsilon_final "
       "(ε-greedy runs that interact)")
def _epsilon_schedule(s, p, method, algorithm):
    if (s.agent_steps > 0 and s.exploration == "epsilon_greedy" and s.epsilon_decay_steps == 0
            and s.epsilon_start != s.epsilon_final):
        return (f"method {method!r} sets epsilon_start={s.epsilon_start} but epsilon_decay_steps=0, so ε is "
                f"epsilon_final={s.epsilon_final} from the first agent step; set epsilon_decay_steps above 0, or "
                "epsilon_start equal to epsilon_final")


@_rule("portable numerics compute eagerly in float32: compile and mixed_precision are not always when numerics is "
       "portable (auto leaves them eager and in float32)")
def _portable_numerics(s, p, method, algorithm):
    if s.numerics != "portable":
        return None
    if s.compile == "always":
        return (f"method {method!r} has numerics: portable and compile: always, but a compiled loss is code generated "
                "for the CPU at hand; set compile: auto or never, or numerics: native")
    if s.mixed_precision == "always":
        return (f"method {method!r} has numerics: portable and mixed_precision: always, but bfloat16 has no AVX2 "
                "instructions (its convolutions leave oneDNN's AVX2 kernels for slower fallbacks); set "
                "mixed_precision: auto or never, or numerics: native")


def planned_updates(settings: Settings, algorithm: str) -> int:
    """Gradient updates a run makes: phase I plus those of the algorithm's schedule over its agent steps (by default one
    at every agent step t with learning_starts ≤ t < agent_steps that `update_period` divides, agents/run.py), counted
    exactly, as the importance-weight annealing ends on it."""
    from .methods import ALGORITHMS

    return settings.pretrain_updates + ALGORITHMS[algorithm].interaction_updates(settings)


def _multiples_below(step: int, period: int) -> int:
    """Multiples of `period` in [0, step): the update steps of the interaction loop before agent step `step`."""
    return -(-step // period)
