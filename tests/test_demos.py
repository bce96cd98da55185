"""Demonstration files: round trip, and a clear one-line refusal for every way a file can be wrong."""
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from agents.demos import files as demo_files
from agents.errors import DemoFileError
from agents.run import file_sha256


def test_round_trip_keeps_every_array_and_the_episode_table(pong_demo_file, short_protocol):
    loaded = demo_files.load(pong_demo_file, "Pong", short_protocol)
    assert loaded.metadata["game"] == "Pong"
    assert loaded.metadata["demonstrator"] == "pong_ram_tracker_v1"
    assert len(loaded.episodes) == 2
    # 400 frames (no-op starts included) / frame skip 4: under 100 steps, cut by the time limit
    lengths = loaded.episodes["length"].to_numpy()
    assert (lengths <= 100).all() and (lengths > 80).all()
    assert loaded.episodes["ended_by"].tolist() == ["time_limit", "time_limit"]
    # one slot per step plus each episode's last frame
    assert loaded.frames.shape == (lengths.sum() + 2, 84, 84)
    assert loaded.num_transitions == lengths.sum()
    first = lengths[0] + 1
    assert loaded.episodes["score"].tolist() == [loaded.rewards[:first].sum(), loaded.rewards[first:].sum()]
    stats = pd.read_csv(pong_demo_file.with_suffix(".stats.csv"))
    assert stats["score"].tolist() == loaded.episodes["score"].tolist()

    copy = pong_demo_file.parent / "copy.npz"
    demo_files.save(loaded, copy)
    again = demo_files.load(copy, "Pong", short_protocol)
    for name in demo_files.ARRAYS:
        assert np.array_equal(getattr(again, name), getattr(loaded, name))


def test_recording_is_reproducible_from_the_seed(pong_demo_file, short_protocol, tmp_path):
    demo_files.record("Pong", short_protocol, episodes=2, seed=3, path=tmp_path / "again.npz",
                      stats_path=tmp_path / "again.csv")
    first = demo_files.load(pong_demo_file, "Pong", short_protocol)
    second = demo_files.load(tmp_path / "again.npz", "Pong", short_protocol)
    assert np.array_equal(first.actions, second.actions) and np.array_equal(first.frames, second.frames)
    # a file records when it was written, so two recordings differ byte for byte; the content checksum matches
    restamped = tmp_path / "restamped.npz"
    demo_files.save(replace(first, metadata={**first.metadata, "recorded_at": "2000-01-01T00:00:00+00:00"}), restamped)
    assert file_sha256(restamped) != file_sha256(pong_demo_file)
    assert demo_files.content_sha256(demo_files.load(restamped, "Pong", short_protocol)) \
        == demo_files.content_sha256(first) == demo_files.content_sha256(second)
    second.actions[0] = (second.actions[0] + 1) % 6
    assert demo_files.content_sha256(first) != demo_files.content_sha256(second)


def test_noise_replaces_a_share_of_actions_and_the_file_records_what_was_played(short_protocol, tmp_path):
    clean = demo_files.record("Pong", short_protocol, episodes=2, seed=3, path=tmp_path / "clean.npz",
                              stats_path=tmp_path / "clean.csv")
    noisy = demo_files.record("Pong", short_protocol, episodes=2, seed=3, path=tmp_path / "noisy.npz",
                              stats_path=tmp_path / "noisy.csv", noise=0.5)
    assert noisy.metadata["noise"] == 0.5 and clean.metadata["noise"] == 0.0
    assert pd.read_csv(tmp_path / "noisy.csv")["noise"].eq(0.5).all()
    # the tracker only uses NOOP, up and down; random actions come from the whole 18-action set
    assert set(np.unique(clean.actions[clean.has_action])) <= {0, 3, 4}
    played = noisy.actions[noisy.has_action]
    off_script = np.isin(played, [0, 3, 4], invert=True).mean()
    assert 0.5 * 15 / 18 - 0.1 < off_script < 0.5 * 15 / 18 + 0.1
    with pytest.raises(DemoFileError, match="not a probability"):
        demo_files.record("Pong", short_protocol, episodes=1, seed=3, path=tmp_path / "bad.npz",
                          stats_path=tmp_path / "bad.csv", noise=1.5)


def test_a_file_written_before_noise_was_named_loads_and_is_written_again_under_the_new_name(
        pong_demo_file, short_protocol, tmp_path):
    """Demo files recorded before the action noise was called `noise` carry it as `epsilon`: they load with it as
    `noise`, in its place among the keys, and demonstrations written from them store `noise`."""
    with np.load(pong_demo_file) as archive:
        contents = {name: archive[name] for name in archive.files}
    metadata = json.loads(contents["metadata"].tobytes().decode())
    old = {("epsilon" if key == "noise" else key): (0.25 if key == "noise" else value)
           for key, value in metadata.items()}
    contents["metadata"] = np.frombuffer(json.dumps(old).encode(), dtype=np.uint8)
    np.savez_compressed(tmp_path / "old.npz", **contents)
    loaded = demo_files.load(tmp_path / "old.npz", "Pong", short_protocol)
    assert list(loaded.metadata) == list(metadata) and loaded.metadata["noise"] == 0.25
    demo_files.write(demo_files.first_episodes(loaded, 1, tmp_path / "old.npz"), tmp_path / "new.npz",
                     tmp_path / "new.csv")
    with np.load(tmp_path / "new.npz") as archive:
        written = json.loads(archive["metadata"].tobytes().decode())
    assert written["noise"] == 0.25 and "epsilon" not in written
    assert pd.read_csv(tmp_path / "new.csv")["noise"].tolist() == [0.25]


def refusal(path, protocol, game="Pong"):
    with pytest.raises(DemoFileError) as caught:
        demo_files.load(path, game, protocol)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path, short_protocol):
    assert "does not exist" in refusal(tmp_path / "none.npz", short_protocol)


def test_wrong_game(pong_demo_file, short_protocol):
    assert "holds Pong demonstrations, not Breakout" in refusal(pong_demo_file, short_protocol, game="Breakout")


def test_other_environment_settings(pong_demo_file, short_protocol):
    sticky = dict(short_protocol, repeat_action_probability=0.25)
    assert "repeat_action_probability=0.0 (run uses 0.25)" in refusal(pong_demo_file, sticky)


def test_truncated_file(pong_demo_file, short_protocol, tmp_path):
    cut = tmp_path / "cut.npz"
    cut.write_bytes(pong_demo_file.read_bytes()[: pong_demo_file.stat().st_size // 2])
    assert "corrupt or truncated" in refusal(cut, short_protocol)


def test_corrupt_bytes(pong_demo_file, short_protocol, tmp_path):
    data = bytearray(pong_demo_file.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 64] = bytes(64)
    broken = tmp_path / "broken.npz"
    broken.write_bytes(bytes(data))
    assert "corrupt or truncated" in refusal(broken, short_protocol)


def test_not_a_demo_file(tmp_path, short_protocol):
    other = tmp_path / "other.npz"
    np.savez(other, frames=np.zeros(3))
    assert "lacks" in refusal(other, short_protocol)


def _rewrite(source, target, short_protocol, change):
    loaded = demo_files.load(source, "Pong", short_protocol)
    change(loaded)
    demo_files.save(loaded, target)
    return target


def test_other_format_version(pong_demo_file, short_protocol, tmp_path):
    path = _rewrite(pong_demo_file, tmp_path / "v0.npz", short_protocol,
                    lambda d: d.metadata.update(format_version=0))
    assert "version 0" in refusal(path, short_protocol)


def test_inconsistent_episode_boundaries(pong_demo_file, short_protocol, tmp_path):
    def cut_last_frame(d):
        for name in demo_files.ARRAYS:
            setattr(d, name, getattr(d, name)[:-1])

    path = _rewrite(pong_demo_file, tmp_path / "short.npz", short_protocol, cut_last_frame)
    assert "no complete episode" in refusal(path, short_protocol)


def _replace(name, make):
    """A change to a loaded file: array `name` becomes make(array)."""
    return lambda d: setattr(d, name, make(getattr(d, name)))


def _with_value(dtype, index, value):
    def make(array):
        array = array.astype(dtype)
        array[index] = value
        return array
    return make


def _first_episode(change):
    return lambda d: change(d.metadata["episodes"][0])


def _terminal_inside_first_episode(d):
    d.terminals[3] = True


# (what is wrong, the change to a valid file, fragment of the refusal)
INVALID_FILES = [
    ("frames scaled to [0, 1]", _replace("frames", lambda a: a.astype(np.float32) / 255),
     "frames are float32 with values in [0.2"),
    ("frames of another screen size", _replace("frames", lambda a: a[:, :80]), "frames have shape"),
    ("negative action", _replace("actions", _with_value(np.int64, 0, -1)), "actions hold ids from -1 to"),
    ("action outside the action set", _replace("actions", _with_value(np.int64, 0, 18)), "18 actions, ids 0 to 17"),
    ("actions as floats", _replace("actions", lambda a: a.astype(float)), "actions has dtype float64"),
    ("NaN reward", _replace("rewards", _with_value(np.float32, 5, np.nan)), "rewards at 1 of"),
    ("infinite reward", _replace("rewards", _with_value(np.float32, 5, -np.inf)), "the first at frame 5"),
    ("reward beyond float32", _replace("rewards", _with_value(np.float64, 5, 1e39)), "NaN or infinite"),
    ("rewards as text", _replace("rewards", lambda a: a.astype(str)), "rewards has dtype <U"),
    ("has_action as integers", _replace("has_action", lambda a: a.astype(np.int64)), "has_action has dtype int64"),
    ("terminals as integers", _replace("terminals", lambda a: a.astype(np.uint8)), "terminals has dtype uint8"),
    ("episode steps as floats", _replace("episode_step", lambda a: a.astype(float)), "episode_step has dtype float64"),
    ("rewards of two columns", _replace("rewards", lambda a: np.stack([a, a], axis=1)), "rewards has shape"),
    ("an array shorter than the others", _replace("rewards", lambda a: a[:-1]), "arrays of different lengths"),
    ("episode steps off by one", _replace("episode_step", lambda a: a + 1), "step counters do not match"),
    ("a terminal inside an episode", _terminal_inside_first_episode, "a terminal at frame 3"),
    ("metadata that is a list", lambda d: setattr(d, "metadata", ["Pong"]), "its metadata is a list, not an object"),
    ("metadata without its demonstrator", lambda d: d.metadata.pop("demonstrator"), "the metadata lacks demonstrator"),
    ("metadata without its game", lambda d: d.metadata.pop("game"), "the metadata lacks game"),
    ("environment settings as a name", lambda d: d.metadata.update(env="dqfd2018"),
     "the metadata's 'env' is a string (\"dqfd2018\"), not an object"),
    ("action noise as a boolean", lambda d: d.metadata.update(noise=True), "'noise' is a boolean"),
    ("action noise above 1", lambda d: d.metadata.update(noise=2), "noise=2 is not a probability"),
    ("episode table as a count", lambda d: d.metadata.update(episodes=2), "'episodes' is an integer (2), not a list"),
    ("episode record as a number", lambda d: d.metadata["episodes"].__setitem__(0, 5),
     "the metadata's episode 0 is an integer, not an object"),
    ("episode record without its score", _first_episode(lambda e: e.pop("score")), "episode 0 lacks score"),
    ("episode length as text", _first_episode(lambda e: e.update(length="90")), "'length' is a string"),
    ("unknown episode ending", _first_episode(lambda e: e.update(ended_by="quit")), "is not one of terminal"),
    ("episode missing from the table", lambda d: d.metadata["episodes"].pop(), "2 episodes in the arrays but 1"),
    ("wrong episode length", _first_episode(lambda e: e.update(length=e["length"] + 1)), "but the metadata says"),
    ("wrong episode score", _first_episode(lambda e: e.update(score=e["score"] + 1)), "rewards sum to"),
    ("ending that the terminals contradict", _first_episode(lambda e: e.update(ended_by="terminal")),
     "episode 0 ends without a terminal but the metadata says it ended by terminal"),
]


@pytest.mark.parametrize("case", INVALID_FILES, ids=[case[0] for case in INVALID_FILES])
def test_every_array_and_metadata_field_is_checked(case, pong_demo_file, short_protocol, tmp_path):
    _, change, fragment = case
    path = _rewrite(pong_demo_file, tmp_path / "bad.npz", short_protocol, change)
    message = refusal(path, short_protocol)
    assert fragment in message and str(path) in message and "record it again" in message


def test_other_integer_and_float_widths_load(pong_demo_file, short_protocol, tmp_path):
    def widen(d):
        d.actions, d.rewards, d.episode_step = (d.actions.astype(np.int64), d.rewards.astype(np.float64),
                                                d.episode_step.astype(np.int64))

    wide = _rewrite(pong_demo_file, tmp_path / "wide.npz", short_protocol, widen)
    loaded = demo_files.load(wide, "Pong", short_protocol)
    assert loaded.actions.dtype == np.int64


def test_the_action_count_comes_from_the_protocol(short_protocol):
    assert demo_files.action_count("Pong", short_protocol) == 18
    assert demo_files.action_count("Pong", dict(short_protocol, full_action_space=False)) == 6


def test_metadata_is_plain_json(pong_demo_file):
    with np.load(pong_demo_file) as archive:
        metadata = json.loads(archive["metadata"].tobytes().decode())
    assert metadata["env"]["max_episode_frames"] == 400


def test_a_packed_colour_test_matches_the_three_channel_one():
    """The screen-reading demonstrators compare one packed integer per pixel: the same pixels as comparing R, G and B."""
    from agents.demos.scripted import DEMON_ATTACK_BULLET, _colour, _packed

    rng = np.random.default_rng(0)
    screen = rng.choice(np.array([[252, 144, 144], [144, 252, 144], [252, 144, 0], [0, 0, 0]], dtype=np.uint8),
                        size=(50, 40))
    assert _colour((252, 144, 144)) == DEMON_ATTACK_BULLET
    np.testing.assert_array_equal(_packed(screen) == DEMON_ATTACK_BULLET, np.all(screen == (252, 144, 144), axis=-1))
    np.testing.assert_array_equal(_packed(screen) != 0, screen.any(-1))
