"""Every way to get demonstrations: the scripted demonstrators, a person at the keyboard (headless), Atari-HEAD
trials, Minari datasets, and a demo set cut from a longer file. Each path round-trips into a file that
`agents.demos.files.load` accepts, and each wrong input is one clear line."""
import io
import tarfile

import cv2
import numpy as np
import pytest

from agents.demos import files as demo_files
from agents.__main__ import main
from agents.demos.scripted import DEMONSTRATORS
from agents.errors import DemoFileError

NEW_GAMES = ["Freeway", "SpaceInvaders", "DemonAttack", "MsPacman"]


@pytest.mark.parametrize("game", NEW_GAMES)
def test_each_demonstrator_is_reproducible_from_its_seed_and_plays_legal_actions(game, short_protocol, tmp_path):
    first = demo_files.record(game, short_protocol, 1, 5, tmp_path / "a.npz", tmp_path / "a.csv")
    again = demo_files.record(game, short_protocol, 1, 5, tmp_path / "b.npz", tmp_path / "b.csv")
    assert np.array_equal(first.actions, again.actions) and np.array_equal(first.frames, again.frames)
    assert first.metadata["demonstrator"] == DEMONSTRATORS[game].name and first.metadata["source"] == "scripted"
    played = first.actions[first.has_action]
    if game == "Freeway":  # the one script without a choice: walking up
        assert set(played) == {2}
    else:  # a script that reacts to the game, not one fixed key
        assert played.max() < 18 and len(np.unique(played)) > 2


# --------------------------------------------------------------------------------------------------- human play
def scripted_keys(schedule):
    """An event source that posts the scheduled key events to pygame's real queue, one step at a time."""
    import pygame

    step = {"t": 0}

    def events():
        for kind, key in schedule.get(step["t"], []):
            pygame.event.post(pygame.event.Event(kind, key=key))
        step["t"] += 1
        return pygame.event.get()

    return events


def test_human_recording_maps_held_keys_to_actions_headless(short_protocol, tmp_path, monkeypatch):
    pygame = pytest.importorskip("pygame")
    from agents.demos import human

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    down, up = pygame.KEYDOWN, pygame.KEYUP
    schedule = {3: [(down, pygame.K_UP)], 10: [(down, pygame.K_SPACE)], 20: [(up, pygame.K_UP)],
                30: [(up, pygame.K_SPACE), (down, pygame.K_DOWN), (down, pygame.K_LEFT)], 40: [(up, pygame.K_DOWN)]}
    recorded = human.record("Pong", short_protocol, 1, 0, "tester", tmp_path / "Pong.npz", tmp_path / "Pong.csv",
                            fps=0, events=scripted_keys(schedule))
    actions = recorded.actions[recorded.has_action]
    # NOOP, then UP, UP+FIRE, FIRE, DOWN+LEFT, LEFT: the key state held between events
    assert actions[:3].tolist() == [0, 0, 0] and actions[3:10].tolist() == [2] * 7
    assert actions[10:20].tolist() == [10] * 10 and actions[20:30].tolist() == [1] * 10
    assert actions[30:40].tolist() == [9] * 10 and actions[40:45].tolist() == [4] * 5
    loaded = demo_files.load(tmp_path / "Pong.npz", "Pong", short_protocol)
    assert loaded.metadata["demonstrator"] == "human:tester" and loaded.metadata["source"] == "human"
    assert loaded.episodes["score"].tolist() == [loaded.rewards.sum()]


def test_human_recording_keeps_finished_episodes_when_the_player_quits(short_protocol, tmp_path, monkeypatch):
    pygame = pytest.importorskip("pygame")
    from agents.demos import human

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    one = human.record("Pong", short_protocol, 1, 0, "p", tmp_path / "one.npz", tmp_path / "one.csv", fps=0,
                       events=scripted_keys({}))
    steps = one.num_transitions
    quit_late = scripted_keys({steps + 5: [(pygame.KEYDOWN, pygame.K_ESCAPE)]})
    two = human.record("Pong", short_protocol, 3, 0, "p", tmp_path / "two.npz", tmp_path / "two.csv", fps=0,
                       events=quit_late)
    assert len(two.episodes) == 1
    with pytest.raises(DemoFileError, match="ended before the first episode"):
        human.record("Pong", short_protocol, 1, 0, "p", tmp_path / "x.npz", tmp_path / "x.csv", fps=0,
                     events=scripted_keys({0: [(pygame.QUIT, 0)]}))


def test_action_mapping_covers_the_full_action_set():
    from agents.demos.human import ACTIONS, action_for

    assert sorted(ACTIONS.values()) == list(range(18))
    assert action_for(up=True, down=True, left=False, right=True, fire=False) == 3  # opposite keys cancel


# -------------------------------------------------------------------------------------------------- Atari-HEAD
def write_trial(folder, rows, trial="100_RZ_1234_Jan-01-00-00-00", skip_frame=None):
    """A trial in Atari-HEAD's layout: the text table and a .tar.bz2 of 210×160 RGB PNGs in a folder."""
    table = folder / f"{trial}.txt"
    lines = ["frame_id,episode_id,score,duration(ms),unclipped_reward,action,gaze_positions"]
    archive = folder / f"{trial}.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for index, (episode, reward, action) in enumerate(rows):
            frame_id = f"RZ_1234_{index + 1}"
            gaze = "null" if index % 2 else "80.5,100.25,81.0,99.5"
            lines.append(f"{frame_id},{episode},{index},{'null' if index == 0 else 50},"
                         f"{'null' if index == 0 else reward},{action},{gaze}")
            if frame_id == skip_frame:
                continue
            image = np.full((210, 160, 3), 10 * index, dtype=np.uint8)
            data = cv2.imencode(".png", image)[1].tobytes()
            member = tarfile.TarInfo(f"{trial}/{frame_id}.png")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    table.write_text("\n".join(lines) + "\n")
    return table, archive


ROWS = [(0, 0, 1), (0, 5, 3), (0, 0, 4), (0, 10, 12), (1, 0, 0), (1, 1, 2), (1, 0, 17), ("null", 0, 0)]


def test_atari_head_trial_becomes_episodes_with_scores_and_terminals(tmp_path, short_protocol):
    from agents.demos.atari_head import import_trial

    table, archive = write_trial(tmp_path, ROWS)
    imported = import_trial(table, archive, "MsPacman", short_protocol, tmp_path / "head.npz", tmp_path / "head.csv")
    loaded = demo_files.load(tmp_path / "head.npz", "MsPacman", short_protocol)
    assert loaded.metadata["source"] == "atari_head"
    # episode 0: four rows → three transitions (its last row is the final frame); episode 1: three rows, cut by the
    # trial's end; the row without an episode id is left out
    assert loaded.actions[loaded.has_action].tolist() == [1, 3, 4, 0, 2]
    assert loaded.rewards[loaded.has_action].tolist() == [0, 5, 0, 0, 1]
    assert loaded.terminals.tolist() == [False, False, True, False, False, False, False]
    assert imported.episodes["ended_by"].tolist() == ["terminal", "time_limit"]
    assert imported.episodes["score"].tolist() == [5.0, 1.0]
    # frames: grey and resized; each PNG was one flat value, 10 × its row
    assert loaded.frames.shape == (7, 84, 84) and loaded.frames[1].min() == loaded.frames[1].max() == 10

    strided = import_trial(table, archive, "MsPacman", short_protocol, tmp_path / "s.npz", tmp_path / "s.csv", stride=2)
    assert strided.actions[strided.has_action].tolist() == [1, 0]
    assert strided.rewards[strided.has_action].tolist() == [5, 1]  # rewards of the skipped rows are summed


@pytest.mark.parametrize("damage, message", [
    ("missing_frame", "lacks 1 of the table's frames (first: RZ_1234_3.png)"),
    ("bad_header", "does not start with the Atari-HEAD header"),
    ("bad_action", "action 19 is not an id of the 18-action set"),
    ("not_bz2", "is not a readable .tar.bz2"),
])
def test_atari_head_refuses_broken_trials(tmp_path, short_protocol, damage, message):
    from agents.demos.atari_head import import_trial

    rows = ROWS if damage != "bad_action" else ROWS[:2] + [(0, 0, 19)]
    table, archive = write_trial(tmp_path, rows, skip_frame="RZ_1234_3" if damage == "missing_frame" else None)
    if damage == "bad_header":
        table.write_text("frame,episode\n" + table.read_text().split("\n", 1)[1])
    if damage == "not_bz2":
        archive.write_bytes(b"not an archive")
    with pytest.raises(DemoFileError) as caught:
        import_trial(table, archive, "MsPacman", short_protocol, tmp_path / "x.npz", tmp_path / "x.csv")
    assert message in str(caught.value) and "\n" not in str(caught.value)


# ------------------------------------------------------------------------------------------------------ Minari
def test_minari_export_and_import_round_trip(pong_demo_file, short_protocol, tmp_path):
    pytest.importorskip("minari")
    from agents.demos.minari import export, import_dataset

    original = demo_files.load(pong_demo_file, "Pong", short_protocol)
    export(original, "dqfd-suite/pong/scripted-v0", root=tmp_path / "minari")
    back = import_dataset("dqfd-suite/pong/scripted-v0", "Pong", short_protocol, tmp_path / "back.npz",
                          tmp_path / "back.csv", root=tmp_path / "minari")
    for name in demo_files.ARRAYS:
        assert np.array_equal(getattr(back, name), getattr(original, name)), name
    assert back.metadata["demonstrator"] == original.metadata["demonstrator"]
    assert back.episodes.equals(original.episodes)
    with pytest.raises(DemoFileError, match="holds Pong demonstrations, not Breakout"):
        import_dataset("dqfd-suite/pong/scripted-v0", "Breakout", short_protocol, tmp_path / "x.npz",
                       tmp_path / "x.csv", root=tmp_path / "minari")
    with pytest.raises(DemoFileError, match="exists already"):
        export(original, "dqfd-suite/pong/scripted-v0", root=tmp_path / "minari")
    with pytest.raises(DemoFileError, match="no local Minari dataset"):
        import_dataset("dqfd-suite/pong/other-v0", "Pong", short_protocol, tmp_path / "x.npz", tmp_path / "x.csv",
                       root=tmp_path / "minari")


@pytest.mark.filterwarnings("ignore::UserWarning")  # Minari asks for metadata this test has no use for
def test_minari_import_converts_raw_rgb_screens(short_protocol, tmp_path):
    minari = pytest.importorskip("minari")
    from gymnasium import spaces
    from minari.data_collector import EpisodeBuffer

    from agents.demos.minari import import_dataset

    screens = np.zeros((4, 210, 160, 3), dtype=np.uint8)
    screens[:, :, :, 1] = np.arange(4)[:, None, None] * 50  # green only: grey = 0.587 × green
    episode = EpisodeBuffer(id=0, observations=screens, actions=np.array([0, 3, 4]), rewards=np.array([0.0, 1.0, 0.0]),
                            terminations=np.array([False, False, True]), truncations=np.zeros(3, bool), infos={})
    import os

    os.environ["MINARI_DATASETS_PATH"] = str(tmp_path / "minari")
    try:
        minari.create_dataset_from_buffers("elsewhere/pong/expert-v0", [episode], jpeg_encoding=False,
                                           observation_space=spaces.Box(0, 255, (210, 160, 3), np.uint8),
                                           action_space=spaces.Discrete(18))
    finally:
        del os.environ["MINARI_DATASETS_PATH"]
    imported = import_dataset("elsewhere/pong/expert-v0", "Pong", short_protocol, tmp_path / "e.npz",
                              tmp_path / "e.csv", root=tmp_path / "minari")
    assert imported.metadata["source"] == "minari" and imported.frames.shape == (4, 84, 84)
    assert np.allclose(imported.frames[:, 0, 0], np.arange(4) * 50 * 0.587, atol=1)
    assert imported.episodes["ended_by"].tolist() == ["terminal"] and imported.episodes["score"].tolist() == [1.0]


# ------------------------------------------------------------------------------------- a demo set from a file
def test_demo_set_takes_the_first_episodes_of_a_file(pong_demo_file, short_protocol, tmp_path, capsys):
    import json

    config = json.dumps({"protocol_overrides": {"max_episode_frames": 400}})
    out = tmp_path / "one.npz"
    assert main(["demos", "--game", "Pong", "--episodes", "1", "--from", str(pong_demo_file), "--out", str(out),
                 "--config-json", config]) == 0
    whole = demo_files.load(pong_demo_file, "Pong", short_protocol)
    first = demo_files.load(out, "Pong", short_protocol)
    assert len(first.episodes) == 1 and first.num_transitions == whole.episodes["length"][0]
    assert np.array_equal(first.frames, whole.frames[:len(first.frames)])
    assert main(["demos", "--game", "Pong", "--episodes", "5", "--from", str(pong_demo_file), "--out", str(out),
                 "--config-json", config]) == 2
    assert "holds 2 episodes; a demo set of 5 cannot be taken" in capsys.readouterr().err
    assert main(["demos", "--game", "Pong", "--episodes", "1", "--noise", "0.1", "--from", str(pong_demo_file),
                 "--out", str(out), "--config-json", config]) == 2
    assert "cannot apply to --from FILE" in capsys.readouterr().err
