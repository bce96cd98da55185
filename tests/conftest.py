import numpy as np
import pytest

from agents.cell import values
from agents.declarations import defaults


@pytest.fixture(scope="session")
def short_protocol():
    """The paper's protocol with 400-frame episodes, so a demonstration takes a second."""
    declared = defaults()
    protocol = values(declared["protocols"][declared["default_protocol"]])
    protocol["max_episode_frames"] = 400
    return protocol


@pytest.fixture(scope="session")
def pong_demo_file(tmp_path_factory, short_protocol):
    from agents.demos.files import record

    folder = tmp_path_factory.mktemp("demos")
    record("Pong", short_protocol, episodes=2, seed=3, path=folder / "Pong.npz", stats_path=folder / "Pong.stats.csv")
    return folder / "Pong.npz"


@pytest.fixture
def rng():
    return np.random.default_rng(0)
