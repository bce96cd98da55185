"""Bad configuration is refused with one line that names the problem and the fix, before any compute.

docs/settings.md and config/settings.schema.yaml are generated from the declarations in agents/defaults.yaml; a test
below checks that the committed files are what the declarations give. After changing a declaration, regenerate them with
    python -m agents settings-docs
"""
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import agents.cell
from agents import settings_docs
from agents.cell import resolve, values
from agents.declarations import check_declarations, defaults
from agents.errors import ConfigError
from agents.games import known_games
from agents.settings import Settings, settings_type
from agents.torso import smallest_screen

ROOT = Path(__file__).resolve().parent.parent


def refused(overrides, game="Pong", method="dqfd", seed=0):
    with pytest.raises(ConfigError) as caught:
        resolve(game, method, seed, overrides)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_defaults_resolve_with_an_origin_for_every_value():
    cell = resolve("Pong", "dqfd", 0, {})
    for section in ("settings", "protocol"):
        for key, entry in cell[section].items():
            assert entry["origin"].startswith(("paper", "our choice")), key
    assert values(cell["settings"])["margin"] == 0.8


def test_method_definitions_and_config_overrides_apply_in_order():
    overrides = {"settings": {"pretrain_updates": 10, "learning_starts": 50},
               "method_settings": {"pdd_dqn": {"learning_starts": 70}}}
    cell = resolve("Pong", "pdd_dqn", 0, overrides)
    settings = values(cell["settings"])
    assert settings["pretrain_updates"] == 0  # the method's definition beats a config-wide budget
    assert settings["learning_starts"] == 70  # a per-method config setting beats the definition
    assert cell["settings"]["learning_starts"]["origin"] == "override: config method_settings.pdd_dqn"


def test_an_origin_can_be_given_with_the_value():
    cell = resolve("Pong", "dqfd", 0, {"settings": {"margin": {"value": 0.5, "origin": "sweep"}}})
    assert cell["settings"]["margin"] == {"value": 0.5, "origin": "sweep"}


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"settings": {"marginn": 0.5}}, "unknown setting 'marginn' in config settings; did you mean 'margin'?"),
        ({"settings": {"gamma": 1.5}}, "gamma=1.5 in config settings must be in [0, 1]"),
        ({"settings": {"n_step": 0}}, "n_step=0 in config settings must be >= 1"),
        ({"settings": {"learning_rate": 0.0}}, "learning_rate=0.0 in config settings must be > 0"),
        ({"settings": {"batch_size": "big"}}, "batch_size='big' in config settings must be a number"),
        ({"settings": {"learning_rate": "1e-4"}}, "must be a number; YAML reads 1e-4 as text, write it as 1.0e-4"),
        ({"settings": {"pretrain_updates": 2.5}}, "pretrain_updates=2.5 in config settings must be a whole number"),
        ({"settings": {"prioritized": "yes"}}, "prioritized='yes' in config settings must be true or false"),
        ({"settings": {"td_loss": "l1"}}, "td_loss='l1' in config settings is not one of huber, mse"),
        ({"settings": {"reward_transform": "log"}}, "reward_transform='log' in config settings is not one of"),
        ({"settings": {"mixed_precision": False}}, "mixed_precision=False in config settings is not one of auto, always, "
                                                   "never; write never for false (stored records: python -m analysis migrate"),
        ({"settings": {"pretrain_eval_updates": 500}}, "pretrain_eval_updates=500 in config settings must be a list"),
        ({"settings": {"pretrain_eval_updates": [0, 500]}},
         "pretrain_eval_updates[0]=0 in config settings must be >= 1"),
        ({"settings": {"pretrain_eval_updates": [500, 100]}}, "must be a list of increasing update counts"),
        ({"settings": {"pretrain_updates": 100, "pretrain_eval_updates": [50, 200]}},
         "between 1 and pretrain_updates=100"),
        ({"settings": [0.99]}, "config settings is a list; give a mapping of names to values"),
        ({"protocol": "atari100k"}, "unknown protocol 'atari100k'"),
        ({"protocol_overrides": {"sticky": 0.25}}, "unknown setting 'sticky' in config protocol_overrides"),
        ({"settings": {"margin": {"origin": "x"}}}, "needs a 'value' key"),
        ({"settings": {"pretrain_updates": 0, "agent_steps": 0}}, "neither pretrain_updates nor agent_steps"),
    ],
)
def test_bad_settings(overrides, expected):
    assert expected in refused(overrides)


def test_unknown_game_method_algorithm_and_seed():
    assert "unknown game 'Pongg'" in refused({}, game="Pongg")
    assert "unknown method 'dqfdd'" in refused({}, method="dqfdd")
    assert "unknown algorithm 'sarsa'" in refused({"method_definitions": {"x": {"algorithm": "sarsa"}}}, method="x")
    assert "seed -1" in refused({}, seed=-1)


def test_pretraining_without_demonstrations_is_refused():
    assert "pretrains without demonstrations" in refused({"method_settings": {"dqfd": {"use_demos": False}}})


def config_files(*names):
    """Config files merged the way Snakemake merges `--configfile` over `configfile:`."""
    from pathlib import Path

    import yaml
    from snakemake.utils import update_config

    merged = {}
    for name in names:
        update_config(merged, yaml.safe_load((Path(__file__).parent.parent / "config" / name).read_text()))
    return merged


@pytest.mark.parametrize("names", [("config.yaml",), ("config.yaml", "tiny.yaml"), ("config.yaml", "paper.yaml"),
                                   ("config.yaml", "methods.yaml"), ("config.yaml", "claims.yaml")])
def test_every_config_resolves_for_every_cell(names):
    from agents.matrix import expand_sweeps

    merged = expand_sweeps(config_files(*names))
    for game in merged["games"]:
        for method in merged["methods"]:
            resolve(game, method, merged["seeds"][0], merged)


def test_the_paper_config_clears_the_laptop_budget():
    merged = config_files("config.yaml", "paper.yaml")
    cell = resolve("Pong", "dqfd", 0, merged)
    assert cell["settings"]["pretrain_updates"] == {"value": 750000, "origin": "paper: DQfD phase I"}
    assert values(cell["settings"])["target_update_period"] == 10000
    assert values(cell["settings"])["learning_rate"] == 6.25e-5
    assert len(merged["seeds"]) == 4
    pdd = values(resolve("Pong", "pdd_dqn", 0, merged)["settings"])  # the default config's laptop schedule stays out
    assert (pdd["learning_starts"], pdd["epsilon_decay_steps"]) == (50000, 250000)
    soft = values(resolve("Pong", "soft_q_pretrain", 0, merged)["settings"])  # the soft-Q paper's Tables 1 and 2
    assert (soft["learning_rate"], soft["learning_rate_final"], soft["learning_rate_decay_start"],
            soft["learning_rate_decay_steps"]) == (1e-4, 5e-5, 10**6, 4 * 10**6)
    assert (soft["soft_q_pretrain_steps"], soft["agent_steps"], soft["learning_starts"]) == (10**6, 5 * 10**6, 50000)
    assert (soft["entropy_temperature"], soft["lambda_supervised"], soft["batch_size"]) == (0.1, 1.0, 32)


def test_methods_config_has_every_package_method():
    from agents.cell import method_definitions
    from agents.matrix import expand_sweeps

    merged = expand_sweeps(config_files("config.yaml", "methods.yaml"))
    assert set(method_definitions({})) <= set(merged["methods"])


def test_a_sweep_becomes_one_method_per_value_after_its_base():
    from agents.matrix import expand_sweeps

    overrides = {"methods": ["dqfd", "bc"], "sweeps": [{"method": "dqfd", "setting": "margin", "values": [0.4, 1.6]}]}
    expanded = expand_sweeps(overrides)
    assert expanded["methods"] == ["dqfd", "dqfd_margin_0p4", "dqfd_margin_1p6", "bc"]
    cell = resolve("Pong", "dqfd_margin_0p4", 0, expanded)
    assert cell["settings"]["margin"] == {"value": 0.4, "origin": "sweep over margin"}
    assert cell["algorithm"] == "dqfd" and overrides["methods"] == ["dqfd", "bc"], "the input is left alone"
    with pytest.raises(ConfigError, match=r"unknown setting 'margn' of 'dqfd'; did you mean 'margin'\?$"):
        expand_sweeps({"methods": ["dqfd"], "sweeps": [{"method": "dqfd", "setting": "margn", "values": [1]}]})


@pytest.mark.parametrize("method, changes", [
    ("dqfd_no_supervised", {"lambda_supervised": 0.0}), ("dqfd_no_n_step", {"lambda_n_step": 0.0}),
    ("dqfd_no_l2", {"lambda_l2": 0.0}), ("dqfd_no_pretrain", {"pretrain_updates": 0}),
    ("dqfd_uniform", {"prioritized": False}), ("adet", {"supervised_loss": "cross_entropy"}),
    ("her", {"pretrain_updates": 0, "lambda_supervised": 0.0, "demo_share": 0.25, "learning_starts": 50000}),
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
    overrides = {"method_settings": {"rbs": {"pretrain_updates": 100}}}
    with pytest.raises(ConfigError, match="overwritable demonstrations"):
        resolve("Pong", "rbs", 0, overrides)


def test_demo_sets_expand_over_quality_and_quantity_name_themselves_and_carry_their_values():
    from agents.matrix import demo_sets

    sets = demo_sets({"demos": {"sets": [{"source": "scripted", "noise": [0.0, 0.25], "episodes": [2, 10]},
                                         {"source": "human", "episodes": [3]}]}})
    assert list(sets) == ["scripted_noise0_ep2", "scripted_noise0_ep10", "scripted_noise0p25_ep2",
                          "scripted_noise0p25_ep10", "human_ep3"]
    assert sets["scripted_noise0p25_ep10"] == {"source": "scripted", "noise": 0.25, "episodes": 10}
    assert sets["human_ep3"] == {"source": "human", "noise": 0.0, "episodes": 3}


@pytest.mark.parametrize("sets, message", [
    ([{"source": "human", "noise": [0.1], "episodes": [3]}], "give noise only to the 'scripted' source"),
    ([{"source": "scripted", "episodes": [3]}, {"source": "scripted", "noise": [0.0], "episodes": [3]}],
     "demo set scripted_noise0_ep3 is listed twice"),
    ([], "demos.sets is empty"),
])
def test_bad_demo_sets_are_refused(sets, message):
    from agents.matrix import demo_sets

    with pytest.raises(ConfigError, match=message):
        demo_sets({"demos": {"sets": sets}})


@pytest.mark.parametrize("overrides, expected", [
    ({"settings": {"learning_rate": math.nan}}, "learning_rate=nan in config settings must be a finite number > 0"),
    ({"settings": {"learning_rate": math.inf}}, "learning_rate=inf in config settings must be a finite number > 0"),
    ({"method_settings": {"dqfd": {"gamma": -math.inf}}},
     "gamma=-inf in config method_settings.dqfd must be a finite number in [0, 1]"),
    ({"settings": {"margin": {"value": math.nan, "origin": "x"}}}, "margin=nan in config settings must be a finite"),
    ({"settings": {"pretrain_updates": math.inf}}, "pretrain_updates=inf in config settings must be a finite number"),
    ({"protocol_overrides": {"repeat_action_probability": math.nan}},
     "repeat_action_probability=nan in config protocol_overrides must be a finite number in [0, 1]"),
])
def test_numbers_must_be_finite(overrides, expected):
    assert expected in refused(overrides)


def numeric(section):
    return [key for key, spec in defaults()[section].items() if spec["type"] in ("int", "float", "list of int")]


@pytest.mark.parametrize("key", numeric("settings"))
def test_nan_is_refused_for_every_numeric_setting(key):
    value = [math.nan] if defaults()["settings"][key]["type"] == "list of int" else math.nan
    assert "must be a finite number" in refused({"settings": {key: value}})


@pytest.mark.parametrize("key", numeric("protocol_knobs"))
def test_infinity_is_refused_for_every_numeric_protocol_knob(key):
    assert "must be a finite number" in refused({"protocol_overrides": {key: math.inf}})


@pytest.mark.parametrize("method, overrides, expected", [
    ("dqfd", {"protocol_overrides": {"screen_size": 20}},
     "screen_size=20 is smaller than the 36 pixels the Q-network's convolutions need"),
    ("pdd_dqn", {"settings": {"replay_capacity": 0}}, "replay_capacity=0 keeps none of its transitions"),
    ("dqfd", {"settings": {"batch_size": 64, "replay_capacity": 32}},
     "batch_size=64 of method 'dqfd' exceeds replay_capacity=32"),
    ("pdd_dqn", {"method_settings": {"pdd_dqn": {"learning_starts": 5}}}, "set learning_starts to at least 9"),
    ("pdd_dqn", {"settings": {"agent_steps": 1000}}, "method 'pdd_dqn' never updates its network"),
    ("pdd_dqn", {"settings": {"agent_steps": 1003}, "method_settings": {"pdd_dqn": {"learning_starts": 1001}}},
     "its first update would come at agent step 1004"),
    ("dqfd", {"settings": {"epsilon_start": 1.0}}, "epsilon_decay_steps=0, so ε is epsilon_final=0.01"),
    ("dqfd", {"settings": {"exploration": "softmax"}}, "explores by 'softmax', a policy algorithm 'dqfd' does not define"),
    ("soft_q", {"method_settings": {"soft_q": {"demo_loss": "decoupled"}}}, "a demonstration loss needs demonstrations"),
    ("soft_q_pretrain", {"method_settings": {"soft_q_pretrain": {"prioritized": True}}},
     "prioritized replay with soft-Q's demo_loss='decoupled' is not defined"),
    # HER's batch holds 24 agent transitions; after agent step 31, 32 are played and the last 9 wait for their
    # 10-step look-ahead.
    ("her", {"method_settings": {"her": {"learning_starts": 31}}}, "set learning_starts to at least 32"),
    # The soft-Q family reads no n-step return: a transition is sampleable once played, not after n_step.
    ("soft_q_bc", {"settings": {"batch_size": 8}, "method_settings": {"soft_q_bc": {"learning_starts": 2}}},
     "fewer than the batch's 4 agent transitions sampleable (each once played, its loss reading no n-step return); "
     "set learning_starts to at least 3"),
])
def test_settings_that_contradict_each_other_are_refused(method, overrides, expected):
    assert expected in refused(overrides, method=method)


@pytest.mark.parametrize("method, overrides", [
    ("bc", {"settings": {"replay_capacity": 0, "batch_size": 64}}),  # never interacts, so needs no agent replay
    ("dqfd", {"settings": {"agent_steps": 0, "replay_capacity": 16}}),  # pretraining only
    ("soft_q", {"settings": {"epsilon_start": 1.0}}),  # softmax exploration has no ε schedule
    ("pdd_dqn", {"settings": {"agent_steps": 1000}, "method_settings": {"pdd_dqn": {"learning_starts": 9}}}),
    ("dqfd", {"settings": {"learning_starts": 0, "batch_size": 32, "replay_capacity": 32}}),
    ("her", {"method_settings": {"her": {"learning_starts": 32}}}),
    ("soft_q", {"method_settings": {"soft_q": {"prioritized": True}}}),  # no demonstrations: TD errors only
    ("soft_q_bc", {"method_settings": {"soft_q_bc": {"soft_q_pretrain_steps": 0, "learning_starts": 10}}}),
    ("soft_q_bc", {"settings": {"batch_size": 8}, "method_settings": {"soft_q_bc": {"learning_starts": 3}}}),
    ("dqn", {"method_settings": {"dqn": {"learning_starts": 0}}}),  # λ1 = 0: its n_step = 10 is not waited for
])
def test_consistent_settings_at_the_edges_of_the_rules_resolve(method, overrides):
    resolve("Pong", method, 0, overrides)


def test_each_algorithm_checks_its_own_rules():
    from agents.methods import ALGORITHMS

    bc = Settings.of(resolve("Pong", "bc", 0, {})["settings"])
    assert "behaviour cloning without demonstrations" in ALGORITHMS["bc"].check(replace(bc, use_demos=False), "bc")
    assert ALGORITHMS["bc"].check(bc, "bc") is None
    assert "a demonstration loss needs demonstrations" in refused(
        {"method_settings": {"soft_q_bc": {"use_demos": False}}}, method="soft_q_bc")


def test_the_known_games_are_those_ale_py_registers():
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    registered = sorted(name.split("/")[1].removesuffix("-v5") for name in gym.registry
                        if name.startswith("ALE/") and name.endswith("-v5"))
    assert known_games() == registered


def test_planning_loads_neither_torch_nor_the_emulator_nor_opencv():
    """What the workflow imports while it plans (rules/common.smk), and every package method resolved."""
    imports = [line for line in (ROOT / "rules" / "common.smk").read_text().splitlines()
               if line.startswith(("from agents", "from analysis"))]
    code = "\n".join([*imports, "import sys", "from agents.cell import resolve",
                      "from agents.declarations import defaults",
                      "for method in defaults()['methods']: resolve('Pong', method, 0, {})",
                      "print(sorted(name for name in ('torch._C', 'ale_py', 'cv2') if name in sys.modules))"])
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]", loaded.stdout + loaded.stderr


def test_the_smallest_screen_is_the_smallest_the_network_accepts():
    from agents.network import QNetwork

    smallest = smallest_screen()
    QNetwork(18, screen_size=smallest)
    with pytest.raises(RuntimeError):
        QNetwork(18, screen_size=smallest - 1)
    resolve("Pong", "dqfd", 0, {"protocol_overrides": {"screen_size": smallest}})
    assert f"at least {smallest}" in refused({"protocol_overrides": {"screen_size": smallest - 1}})


@pytest.mark.parametrize("overlay, expected", [
    ({"window_fraction": math.nan}, "window_fraction=nan in the workflow config is not a finite number"),
    ({"resources": {"threads_per_run": 1, "updates_per_s": math.inf}}, "resources.updates_per_s=inf"),
    ({"demos": {"sets": [{"source": "scripted", "noise": [0.0, math.nan], "episodes": [1]}]}},
     "demos.sets[0].noise[1]=nan"),
])
def test_the_workflow_numbers_must_be_finite(overlay, expected):
    from agents.config_file import check_finite_numbers

    with pytest.raises(ConfigError, match=expected.replace("[", r"\[").replace(".", r"\.")):
        check_finite_numbers({**config_files("config.yaml"), **overlay})


def test_settings_sections_are_left_to_their_declarations():
    from agents.config_file import check_finite_numbers

    check_finite_numbers(config_files("config.yaml"))
    check_finite_numbers({"settings": {"learning_rate": math.nan}})  # resolve() refuses it, naming the setting


def with_setting(name, declaration):
    declared = defaults()
    declared["settings"][name] = declaration
    return declared


def test_a_setting_added_to_the_declarations_is_checked_like_the_others(monkeypatch):
    declared = check_declarations(with_setting("label_smoothing", {
        "value": 0.0, "origin": "our choice: no smoothing", "type": "float", "range": "[0, 1)",
        "meaning": "label smoothing of the cross-entropy"}))
    monkeypatch.setattr(agents.cell, "declarations", lambda: declared)
    monkeypatch.setattr(agents.cell, "Settings", settings_type(declared["settings"]))  # a field of its own
    cell = resolve("Pong", "bc", 0, {"settings": {"label_smoothing": 0.1}})
    assert cell["settings"]["label_smoothing"] == {"value": 0.1, "origin": "override: config settings"}
    assert "label_smoothing=1.0 in config settings must be in [0, 1)" in refused(
        {"settings": {"label_smoothing": 1.0}}, method="bc")
    assert "must be a finite number in [0, 1)" in refused({"settings": {"label_smoothing": math.nan}}, method="bc")


@pytest.mark.parametrize("declaration, expected", [
    ({"value": 0.0, "origin": "x", "meaning": "m"}, "setting 'extra' in agents/defaults.yaml declares no type"),
    ({"value": 0.0, "origin": "x", "type": "number", "meaning": "m"}, "declares type 'number'"),
    ({"value": 0.0, "origin": "x", "type": "float"}, "has no meaning"),
    ({"value": 0.0, "origin": "x", "type": "float", "range": "0 to 1", "meaning": "m"}, "declares range '0 to 1'"),
    ({"value": 0.0, "origin": "x", "type": "float", "range": "[1, 0]", "meaning": "m"}, "declares range '[1, 0]'"),
    ({"value": "a", "origin": "x", "type": "str", "range": "[0, 1]", "meaning": "m"}, "cannot have a range"),
    ({"value": 2.0, "origin": "x", "type": "float", "range": "[0, 1]", "meaning": "m"},
     "extra=2.0 in agents/defaults.yaml must be in [0, 1]"),
    ({"type": "float", "meaning": "m"}, "has no default"),
    ({"value": 0.0, "origin": "x", "type": "float", "meaning": "m", "maximum": 1}, "has unknown keys maximum"),
])
def test_an_incomplete_or_inconsistent_declaration_is_refused(declaration, expected):
    with pytest.raises(ConfigError) as caught:
        check_declarations(with_setting("extra", declaration))
    assert expected in str(caught.value)


def test_every_config_satisfies_the_workflow_schema():
    from snakemake.utils import validate

    for names in [("config.yaml",), ("config.yaml", "tiny.yaml"), ("config.yaml", "paper.yaml"),
                  ("config.yaml", "methods.yaml"), ("config.yaml", "transfer.yaml"),
                  ("config.yaml", "demo_quality.yaml")]:
        validate(config_files(*names), str(ROOT / "config/schema.yaml"))
    from snakemake.exceptions import WorkflowError

    with pytest.raises(WorkflowError) as caught:  # the protocol names come from the declarations too
        validate({**config_files("config.yaml"), "protocol": "nature2015"}, str(ROOT / "config/schema.yaml"))
    assert "'nature2015' is not one of ['dqfd2018', 'machado2018']" in str(caught.value)


def test_the_generated_settings_doc_and_schema_are_the_declarations():
    for path, text in settings_docs.generated().items():
        committed = path.read_text() if path.is_file() else ""
        assert committed == text, f"{path.relative_to(ROOT)} is stale: python -m agents settings-docs regenerates it"


def test_settings_docs_rewrites_the_generated_files_once_and_then_finds_them_current(monkeypatch, tmp_path, capsys):
    from agents.__main__ import main

    monkeypatch.setattr(settings_docs, "SETTINGS_DOC", tmp_path / "settings.md")
    monkeypatch.setattr(settings_docs, "SETTINGS_SCHEMA", tmp_path / "settings.schema.yaml")
    assert main(["settings-docs"]) == 0
    assert capsys.readouterr().out.split("\n")[:2] == ["rewrote settings.md", "rewrote settings.schema.yaml"]
    assert (tmp_path / "settings.md").read_text() == settings_docs.settings_doc()
    assert main(["settings-docs"]) == 0 and capsys.readouterr().out.startswith("up to date")


def test_a_setting_the_code_reads_but_nobody_declared_is_named_in_one_line():
    import copy

    settings = Settings.of(resolve("Pong", "dqfd", 0, {})["settings"])
    with pytest.raises(ConfigError, match="reads setting 'lambda_ce', which agents/defaults.yaml does not declare"):
        settings.lambda_ce
    assert not hasattr(settings, "lambda_ce") and copy.deepcopy(settings) == settings


def test_a_config_file_is_laid_over_the_workflows_base_as_the_workflow_lays_it(monkeypatch, tmp_path, capsys):
    """`python -m agents train --config config/tiny.yaml` resolves the cell the workflow runs for that config (the
    tiny config over config/config.yaml: its learning rate, not the package's); away from the repository it says
    that no base was found and how to get the workflow's cell."""
    from agents.__main__ import _config, build_parser

    tiny = Path(__file__).resolve().parent.parent / "config/tiny.yaml"
    arguments = ["train", "--game", "Pong", "--method", "dqfd", "--seed", "0", "--out", "run", "--config"]
    monkeypatch.chdir(tiny.parent.parent)
    by_hand = resolve("Pong", "dqfd", 0, _config(build_parser().parse_args([*arguments, "config/tiny.yaml"])))
    assert by_hand == resolve("Pong", "dqfd", 0, config_files("config.yaml", "tiny.yaml"))
    assert values(by_hand["settings"])["learning_rate"] == 2.5e-4
    assert capsys.readouterr().err == "config: config/tiny.yaml laid over config/config.yaml, as the workflow lays it\n"
    monkeypatch.chdir(tmp_path)
    alone = resolve("Pong", "dqfd", 0, _config(build_parser().parse_args([*arguments, str(tiny)])))
    assert values(alone["settings"])["learning_rate"] == 6.25e-5
    assert "alone, as no config/config.yaml is here" in capsys.readouterr().err
