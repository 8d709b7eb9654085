"""Physical sanity of the generated binaural RIRs."""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio.metrics import t60
from audio_separation.world.acoustics import RirSettings, SceneAcoustics
from audio_separation.world.floorplan import Door, FloorPlan, Room, eyring_absorption, eyring_t60, sabine_t60
from audio_separation.world.soundspaces import SoundSpacesLayout, load_packed_cache, read_points

SAMPLE_RATE = 16000


def _room(index, x0, y0, x1, y1, target_t60):
    volume = (x1 - x0) * (y1 - y0) * 2.8
    surface = 2 * ((x1 - x0) * (y1 - y0) + ((x1 - x0) + (y1 - y0)) * 2.8)
    return Room(
        index,
        "room",
        x0,
        y0,
        x1,
        y1,
        2.8,
        eyring_absorption(target_t60, volume, surface),
        target_t60,
        (0, 0, 0),
        (0, 0, 0),
    )


@pytest.fixture(scope="module")
def two_room_acoustics():
    plan = FloorPlan("two", [_room(0, 0, 0, 6, 5, 0.25), _room(1, 6, 0, 11, 5, 0.7)], [Door(0, 1, 6.0, 2.0, 6.0, 3.0)])
    return plan, SceneAcoustics(plan, RirSettings(sample_rate=SAMPLE_RATE, length_seconds=1.0), seed=0)


def _energy(x):
    return float(np.sum(np.asarray(x, dtype=np.float64) ** 2))


def test_lateral_source_is_louder_and_earlier_at_the_near_ear(two_room_acoustics):
    plan, acoustics = two_room_acoustics
    listener = np.array([3.0, 2.5, 1.5])
    # heading 0 faces +y (north), so the left ear points to -x (west); heading 180 turns it east
    west = np.array([1.0, 2.5, 1.5])
    rirs = acoustics.binaural_rirs(west, listener, [0, 180], (0, 1))
    for h, near, far in ((0, 0, 1), (1, 1, 0)):
        early = rirs[h, : int(0.004 * SAMPLE_RATE) + 100]  # direct sound window
        assert _energy(early[:, near]) > 2.0 * _energy(early[:, far])
        assert np.argmax(np.abs(rirs[h, :, near])) < np.argmax(np.abs(rirs[h, :, far]))
    # frontal source: ears nearly balanced
    north = np.array([3.0, 4.5, 1.5])
    frontal = acoustics.binaural_rirs(north, listener, [0], (0, 2))[0]
    ratio = _energy(frontal[:400, 0]) / _energy(frontal[:400, 1])
    assert 0.8 < ratio < 1.25


def test_measured_t60_matches_the_absorption_and_rooms_differ(two_room_acoustics):
    plan, acoustics = two_room_acoustics
    measured = []
    for room, listener, source in (
        (plan.rooms[0], [2.0, 1.5, 1.5], [4.5, 3.5, 1.5]),
        (plan.rooms[1], [7.5, 1.5, 1.5], [10.0, 4.0, 1.5]),
    ):
        rir = acoustics.binaural_rirs(np.array(source), np.array(listener), [0], (1, 2))[0]
        value = float(np.mean([t60(rir[:, ear], SAMPLE_RATE) for ear in range(2)]))
        low = 0.8 * eyring_t60(room.absorption, room.volume, room.surface)
        high = 1.2 * sabine_t60(room.absorption, room.volume, room.surface)
        assert low <= value <= high, (room.index, value, low, high)
        measured.append(value)
    assert measured[1] > 2 * measured[0]


def test_sound_through_a_door_is_delayed_and_weaker(two_room_acoustics):
    plan, acoustics = two_room_acoustics
    listener = np.array([4.0, 2.5, 1.5])
    same_room = acoustics.binaural_rirs(np.array([1.0, 2.5, 1.5]), listener, [0], (3, 0))[0]
    next_room = acoustics.binaural_rirs(np.array([9.0, 4.5, 1.5]), listener, [0], (3, 1))[0]
    onset = lambda x: int(np.argmax(np.abs(x[:, 0]) > 0.1 * np.abs(x[:, 0]).max()))  # noqa: E731
    assert onset(next_room) > onset(same_room)
    assert _energy(next_room[:800]) < _energy(same_room[:800])


def test_rirs_are_deterministic(two_room_acoustics):
    plan, _ = two_room_acoustics
    a = SceneAcoustics(plan, RirSettings(length_seconds=0.3), seed=5).binaural_rirs(
        np.array([1.0, 1.0, 1.5]), np.array([9.0, 4.0, 1.5]), [0, 90], (1, 2)
    )
    b = SceneAcoustics(plan, RirSettings(length_seconds=0.3), seed=5).binaural_rirs(
        np.array([1.0, 1.0, 1.5]), np.array([9.0, 4.0, 1.5]), [0, 90], (1, 2)
    )
    np.testing.assert_array_equal(a, b)


def test_tiny_world_energy_falls_with_distance(tiny_world):
    root, report = tiny_world
    layout = SoundSpacesLayout(root, "procedural")
    distances, energies = [], []
    for scene in layout.scenes():
        points = read_points(layout.points_path(scene))
        packed = load_packed_cache(layout, scene, [0, 90, 180, 270], SAMPLE_RATE, build_if_missing=False)
        for receiver in packed.nodes:
            for source in packed.nodes:
                if source == receiver:
                    continue
                distances.append(np.linalg.norm(points[receiver][:2] - points[source][:2]))
                energies.append(10 * np.log10(_energy(packed.get(receiver, source, 0))))
    distances, energies = np.array(distances), np.array(energies)
    assert np.corrcoef(distances, energies)[0, 1] < -0.3
    near, far = energies[distances <= 1.5].mean(), energies[distances >= 3.0].mean()
    assert near > far + 3.0
