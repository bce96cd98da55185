"""Bad configuration is refused with one line that names the problem and the fix, before any compute."""
import pytest

from agents.config import resolve, values
from agents.errors import ConfigError


def refused(profile, game="Pong", method="dqfd", seed=0):
    with pytest.raises(ConfigError) as caught:
        resolve(game, method, seed, profile)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_defaults_resolve_with_an_origin_for_every_value():
    cell = resolve("Pong", "dqfd", 0, {})
    for section in ("settings", "protocol"):
        for key, entry in cell[section].items():
            assert entry["origin"].startswith(("paper", "our choice")), key
    assert values(cell["settings"])["margin"] == 0.8


def test_method_definitions_and_profile_overrides_apply_in_order():
    profile = {"settings": {"pretrain_updates": 10, "learning_starts": 5},
               "method_settings": {"pdd_dqn": {"learning_starts": 7}}}
    cell = resolve("Pong", "pdd_dqn", 0, profile)
    settings = values(cell["settings"])
    assert settings["pretrain_updates"] == 0  # the method's definition beats a profile-wide budget
    assert settings["learning_starts"] == 7  # a per-method profile setting beats the definition
    assert cell["settings"]["learning_starts"]["origin"] == "override: profile method_settings.pdd_dqn"


def test_an_origin_can_be_given_with_the_value():
    cell = resolve("Pong", "dqfd", 0, {"settings": {"margin": {"value": 0.5, "origin": "sweep"}}})
    assert cell["settings"]["margin"] == {"value": 0.5, "origin": "sweep"}


@pytest.mark.parametrize(
    "profile, expected",
    [
        ({"settings": {"marginn": 0.5}}, "unknown setting 'marginn' in profile settings"),
        ({"settings": {"gamma": 1.5}}, "gamma=1.5 in profile settings must lie in [0.0, 1.0]"),
        ({"settings": {"n_step": 0}}, "n_step=0 in profile settings must be > 0"),
        ({"settings": {"batch_size": "big"}}, "batch_size='big' in profile settings must be a number"),
        ({"settings": {"pretrain_updates": 2.5}}, "pretrain_updates=2.5 in method 'dqfd' must be a whole number"),
        ({"settings": {"prioritized": "yes"}}, "prioritized='yes' in method 'dqfd' should be a bool"),
        ({"settings": {"td_loss": "l1"}}, "td_loss='l1' in profile settings is not one of huber, mse"),
        ({"protocol": "atari100k"}, "unknown protocol 'atari100k'"),
        ({"protocol_overrides": {"sticky": 0.25}}, "unknown setting 'sticky' in profile protocol_overrides"),
        ({"settings": {"margin": {"origin": "x"}}}, "needs a 'value' key"),
        ({"settings": {"pretrain_updates": 0, "agent_steps": 0}}, "neither pretrain_updates nor agent_steps"),
    ],
)
def test_bad_settings(profile, expected):
    assert expected in refused(profile)


def test_unknown_game_method_algorithm_and_seed():
    assert "unknown game 'Pongg'" in refused({}, game="Pongg")
    assert "unknown method 'dqfdd'" in refused({}, method="dqfdd")
    assert "unknown algorithm 'sarsa'" in refused({"method_definitions": {"x": {"algorithm": "sarsa"}}}, method="x")
    assert "seed -1" in refused({}, seed=-1)


def test_pretraining_without_demonstrations_is_refused():
    assert "pretrains without demonstrations" in refused({"method_settings": {"dqfd": {"use_demos": False}}})


def profile(*names):
    """Config files merged the way Snakemake merges `--configfile` over `configfile:`."""
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    merged = {}
    for name in names:
        update_config(merged, yaml.safe_load((Path(__file__).parent.parent / "config" / name).read_text()))
    return merged


@pytest.mark.parametrize("names", [("config.yaml",), ("config.yaml", "tiny.yaml"), ("config.yaml", "paper.yaml"),
                                   ("config.yaml", "methods.yaml")])
def test_every_profile_resolves_for_every_cell(names):
    from agents.config import expand_sweeps

    merged = expand_sweeps(profile(*names))
    for game in merged["games"]:
        for method in merged["methods"]:
            resolve(game, method, merged["seeds"][0], merged)


def test_the_paper_profile_clears_the_laptop_budget():
    merged = profile("config.yaml", "paper.yaml")
    cell = resolve("Pong", "dqfd", 0, merged)
    assert cell["settings"]["pretrain_updates"] == {"value": 750000, "origin": "paper: DQfD phase I"}
    assert values(cell["settings"])["target_update_period"] == 10000
    assert values(cell["settings"])["learning_rate"] == 6.25e-5
    assert len(merged["seeds"]) == 4
    soft = values(resolve("Pong", "soft_q_pretrain", 0, merged)["settings"])  # the soft-Q paper's Tables 1 and 2
    assert (soft["learning_rate"], soft["learning_rate_final"], soft["learning_rate_decay_steps"]) == (1e-4, 5e-5, 10**6)
    assert (soft["soft_q_pretrain_steps"], soft["agent_steps"], soft["learning_starts"]) == (10**6, 5 * 10**6, 50000)
    assert (soft["entropy_temperature"], soft["lambda_supervised"], soft["batch_size"]) == (0.1, 1.0, 32)


def test_methods_profile_has_every_package_method():
    from agents.config import expand_sweeps, method_definitions

    merged = expand_sweeps(profile("config.yaml", "methods.yaml"))
    assert set(method_definitions({})) <= set(merged["methods"])


def test_a_sweep_becomes_one_method_per_value_after_its_base():
    from agents.config import expand_sweeps

    profile = {"methods": ["dqfd", "bc"], "sweeps": [{"method": "dqfd", "setting": "margin", "values": [0.4, 1.6]}]}
    expanded = expand_sweeps(profile)
    assert expanded["methods"] == ["dqfd", "dqfd_margin_0p4", "dqfd_margin_1p6", "bc"]
    cell = resolve("Pong", "dqfd_margin_0p4", 0, expanded)
    assert cell["settings"]["margin"] == {"value": 0.4, "origin": "sweep over margin"}
    assert cell["algorithm"] == "dqfd" and profile["methods"] == ["dqfd", "bc"], "the input is left alone"
    with pytest.raises(ConfigError, match="unknown setting 'margn'"):
        expand_sweeps({"methods": ["dqfd"], "sweeps": [{"method": "dqfd", "setting": "margn", "values": [1]}]})


@pytest.mark.parametrize("method, changes", [
    ("dqfd_no_supervised", {"lambda_supervised": 0.0}), ("dqfd_no_n_step", {"lambda_n_step": 0.0}),
    ("dqfd_no_l2", {"lambda_l2": 0.0}), ("dqfd_no_pretrain", {"pretrain_updates": 0}),
    ("dqfd_uniform", {"prioritized": False}), ("adet", {"supervised_loss": "cross_entropy"}),
    ("her", {"pretrain_updates": 0, "lambda_supervised": 0.0, "demo_share": 0.25}),
    ("rbs", {"pretrain_updates": 0, "lambda_supervised": 0.0, "demos_overwritable": True}),
])
def test_ablations_and_baselines_are_dqfd_with_one_switch_each(method, changes):
    dqfd = values(resolve("Pong", "dqfd", 0, {})["settings"])
    cell = resolve("Pong", method, 0, {})
    assert cell["algorithm"] == "dqfd"
    changed = {key: value for key, value in values(cell["settings"]).items() if dqfd[key] != value}
    exploration = {"epsilon_start", "epsilon_decay_steps", "lambda_l2"}  # HER and RBS explore like pdd_dqn
    assert {key: changed[key] for key in changes} == changes
    assert set(changed) - set(changes) <= exploration


def test_overwritable_demonstrations_cannot_be_pretrained_on():
    profile = {"method_settings": {"rbs": {"pretrain_updates": 100}}}
    with pytest.raises(ConfigError, match="overwritable demonstrations"):
        resolve("Pong", "rbs", 0, profile)


def test_demo_sets_expand_over_quality_and_quantity_and_name_themselves():
    from agents.config import demo_sets

    profile = {"demos": {"sets": [{"source": "scripted", "epsilon": [0.0, 0.25], "episodes": [2, 10]},
                                  {"source": "human", "episodes": [3]}]}}
    sets = demo_sets(profile)
    assert list(sets) == ["scripted_eps0_ep2", "scripted_eps0_ep10", "scripted_eps0p25_ep2", "scripted_eps0p25_ep10",
                          "human_ep3"]
    assert sets["scripted_eps0p25_ep10"] == {"source": "scripted", "epsilon": 0.25, "episodes": 10}
    assert sets["human_ep3"] == {"source": "human", "epsilon": 0.0, "episodes": 3}


@pytest.mark.parametrize("sets, message", [
    ([{"source": "human", "epsilon": [0.1], "episodes": [3]}], "give epsilon only to the 'scripted' source"),
    ([{"source": "scripted", "episodes": [3]}, {"source": "scripted", "epsilon": [0.0], "episodes": [3]}],
     "demo set scripted_eps0_ep3 is listed twice"),
    ([], "demos.sets is empty"),
])
def test_bad_demo_sets_are_refused(sets, message):
    from agents.config import demo_sets

    with pytest.raises(ConfigError, match=message):
        demo_sets({"demos": {"sets": sets}})
