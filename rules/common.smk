import json

from snakemake.exceptions import WorkflowError

from agents.config import method_definitions, resolve, values
from agents.demonstrators import DEMONSTRATORS
from agents.errors import ConfigError

RESULTS = config["results_dir"]
GAMES, METHODS, SEEDS = config["games"], config["methods"], config["seeds"]
RUN_DIR = f"{RESULTS}/runs/{{game}}/{{method}}/seed_{{seed}}"


wildcard_constraints:
    game="[A-Za-z0-9]+",
    method="[A-Za-z0-9_]+",
    seed="[0-9]+",


def cell_profile(method):
    """The part of the config that one method's cells depend on. Passing only this as a parameter means that adding
    or editing another method leaves these cells' parameters, and so their outputs, untouched."""
    profile = {key: config.get(key) for key in ("protocol", "protocol_overrides", "settings")}
    profile["method_settings"] = {method: (config.get("method_settings") or {}).get(method) or {}}
    own = (config.get("method_definitions") or {}).get(method)
    profile["method_definitions"] = {method: own} if own else {}
    return profile


def demo_profile():
    return {key: config.get(key) for key in ("protocol", "protocol_overrides")}


# Resolve and check every cell now, so a bad config stops the workflow before any job starts.
try:
    CELLS = {(game, method, seed): resolve(game, method, seed, cell_profile(method))
             for game in GAMES for method in METHODS for seed in SEEDS}
except ConfigError as error:
    raise WorkflowError(f"config error: {error}")

USES_DEMOS = {method: values(CELLS[(GAMES[0], method, SEEDS[0])]["settings"])["use_demos"] for method in METHODS}
DEMO_GAMES = sorted({game for game in GAMES for method in METHODS if USES_DEMOS[method]})
for game in DEMO_GAMES:
    if game not in DEMONSTRATORS:
        needing = ", ".join(method for method in METHODS if USES_DEMOS[method])
        raise WorkflowError(
            f"config error: {needing} need demonstrations but no demonstrator exists for {game}; "
            f"demonstrators exist for {', '.join(DEMONSTRATORS)}"
        )
