"""The measured-HRTF binaural model "kemar" (world/hrtf.py, world/acoustics.py): direction cues where a head
puts them, and a late tail with a head's interaural coherence.

Values measured at the commit that added these tests (16 kHz, the MIT KEMAR normal-pinna set):
- source 2 m away at 90 degrees left, free-field-like room (30 x 30 x 12 m, T60 0.3 s, listener 6 m up),
  first arrival (audio/metrics.py): ITD (cross-correlation) +0.730 ms, the left ear leads (the same
  method on the raw 44.1 kHz HRIRs gives 0.723 ms; the sphere model 0.691 ms); ILD 4-8 kHz +15.0 dB
  (sphere 17.2 dB);
- front (0 deg) vs back (180 deg), left ear, third octaves 2-8 kHz: up to 4.6 dB apart; 30 vs 150 deg (same
  cone of confusion): up to 10.4 dB apart; level vs 50 degrees up, 1-8 kHz: up to 15.3 dB apart; the
  sphere model gives identical spectra for all three pairs;
- late tail (8 x 6 x 3 m room, T60 0.8 s, 4 pairs x 4 headings, samples after 0.1 s, Welch 1024):
  interaural coherence (real part) averaged over the bins in (0, 200] Hz 0.918 (lowest bin 0.72 at
  188 Hz; the diffuse-field coherence of the set itself is 0.71 at 200 Hz, 0.98 at 100 Hz), mean |.|
  over the bins >= 2 kHz 0.071; with the sphere model (independent ears) 0.021 and 0.074.
"""

from __future__ import annotations

import numpy as np
import pytest

from audio_separation.audio.metrics import (
    first_arrival,
    interaural_coherence,
    interaural_level_difference,
    interaural_time_difference,
)
from audio_separation.world.acoustics import RirSettings, SceneAcoustics, facing_vectors
from audio_separation.world.floorplan import FloorPlan, Room, eyring_absorption
from audio_separation.world.hrtf import load_hrtf, read_sofa, solid_angle_weights

SAMPLE_RATE = 16000


def _room(index, x0, y0, x1, y1, height, target_t60):
    volume = (x1 - x0) * (y1 - y0) * height
    surface = 2 * ((x1 - x0) * (y1 - y0) + ((x1 - x0) + (y1 - y0)) * height)
    absorption = eyring_absorption(target_t60, volume, surface)
    return Room(index, "room", x0, y0, x1, y1, height, absorption, target_t60, (0, 0, 0), (0, 0, 0))


LISTENER = np.array([15.0, 15.0, 6.0])


@pytest.fixture(scope="module")
def open_room():
    """A large absorbent room: the direct sound is 2 m away, the first reflection >= 10 ms later."""
    plan = FloorPlan("open", [_room(0, 0, 0, 30, 30, 12, 0.3)], [])
    return {
        model: SceneAcoustics(
            plan, RirSettings(sample_rate=SAMPLE_RATE, length_seconds=0.2, ism_order=2, binaural_model=model), seed=0
        )
        for model in ("sphere", "kemar")
    }


def _arrival_from(acoustics, direction, key):
    """First arrival (2, window) of a source 2 m from the listener (heading 0) in a head-frame direction."""
    forward, left = facing_vectors(0)
    source = LISTENER + 2.0 * (direction[0] * forward + direction[1] * left + np.array([0, 0, direction[2]]))
    rir = acoustics.binaural_rirs(source, LISTENER, [0], key)[0]
    return first_arrival(rir.T, SAMPLE_RATE)


def _direction(azimuth_degrees, elevation_degrees=0.0):
    """Head-frame unit vector (front, left, up), azimuth counter-clockwise from the front (SOFA)."""
    a, e = np.radians(azimuth_degrees), np.radians(elevation_degrees)
    return np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])


def _third_octaves_db(signal, low=2000.0, high=8000.0):
    spectrum = np.abs(np.fft.rfft(signal, 1024, axis=-1)) ** 2
    frequencies = np.fft.rfftfreq(1024, 1.0 / SAMPLE_RATE)
    edges = low * 2 ** (np.arange(0, 1 + 3 * np.log2(high / low)) / 3)
    return np.stack(
        [
            10 * np.log10(spectrum[..., (frequencies >= a) & (frequencies < b)].sum(-1))
            for a, b in zip(edges, edges[1:])
        ],
        axis=-1,
    )


def test_sofa_file_ships_with_the_package_and_reads():
    hrirs = read_sofa()
    assert hrirs.impulse_responses.shape == (710, 2, 512) and hrirs.sample_rate == 44100
    elevations = np.unique(hrirs.azimuth_elevation[:, 1])
    assert elevations.min() == -40 and elevations.max() == 90
    np.testing.assert_allclose(np.linalg.norm(hrirs.directions, axis=1), 1.0)
    weights = solid_angle_weights(hrirs.azimuth_elevation[:, 1])
    assert np.isclose(weights.sum(), 1.0) and np.all(weights > 0)


def test_source_on_the_left_leads_and_is_louder_at_the_left_ear(open_room):
    arrival = _arrival_from(open_room["kemar"], _direction(90), (0, 1))
    itd_ms = interaural_time_difference(arrival, SAMPLE_RATE) * 1e3
    ild_db = interaural_level_difference(arrival, SAMPLE_RATE, (4000, 8000))
    assert 0.6 <= itd_ms <= 0.75, itd_ms
    assert ild_db >= 10.0, ild_db
    mirrored = _arrival_from(open_room["kemar"], _direction(270), (0, 2))
    assert np.isclose(interaural_time_difference(mirrored, SAMPLE_RATE) * 1e3, -itd_ms, atol=0.07)
    assert np.isclose(interaural_level_difference(mirrored, SAMPLE_RATE, (4000, 8000)), -ild_db, atol=1.0)
    frontal = _arrival_from(open_room["kemar"], _direction(0), (0, 3))
    assert abs(interaural_time_difference(frontal, SAMPLE_RATE)) < 1e-4
    assert abs(interaural_level_difference(frontal)) < 1.0


def test_back_differs_spectrally_from_the_mirrored_front(open_room):
    """Pinnae break the front/back symmetry that a sphere has (same ITD and ILD, different spectrum)."""
    for front, back in ((0, 180), (30, 150)):
        differences = {}
        for model, acoustics in open_room.items():
            ahead = _third_octaves_db(_arrival_from(acoustics, _direction(front), (1, front)))
            behind = _third_octaves_db(_arrival_from(acoustics, _direction(back), (1, back)))
            differences[model] = np.abs(ahead - behind).max()
        assert differences["sphere"] < 0.1, differences
        assert differences["kemar"] >= 3.0, differences


def test_elevation_changes_the_spectrum(open_room):
    level = _third_octaves_db(_arrival_from(open_room["kemar"], _direction(0, 0), (2, 0)), 1000, 8000)
    above = _third_octaves_db(_arrival_from(open_room["kemar"], _direction(0, 50), (2, 1)), 1000, 8000)
    assert np.abs(level - above).max() >= 3.0


def test_tail_has_the_interaural_coherence_of_a_head():
    plan = FloorPlan("reverberant", [_room(0, 0, 0, 8, 6, 3, 0.8)], [])
    pairs = [
        ((1, 1, 1.5), (6, 4, 1.5)),
        ((2, 5, 1.5), (7, 1, 1.5)),
        ((4, 3, 1.2), (1.5, 1, 1.6)),
        ((6.5, 5, 1.5), (3, 2, 1.5)),
    ]
    measured = {}
    for model in ("sphere", "kemar"):
        acoustics = SceneAcoustics(
            plan, RirSettings(sample_rate=SAMPLE_RATE, length_seconds=1.0, binaural_model=model), seed=1
        )
        tails = np.concatenate(
            [
                acoustics.binaural_rirs(np.array(source), np.array(receiver), [0, 90, 180, 270], (index, 0))[
                    :, int(0.1 * SAMPLE_RATE) :
                ]
                for index, (source, receiver) in enumerate(pairs)
            ]
        )  # after 0.1 s only the statistical tail is left (the order-8 image list ends at ~70 ms here)
        frequencies, coherence = interaural_coherence(tails[..., 0], tails[..., 1], SAMPLE_RATE)
        low = (frequencies > 0) & (frequencies <= 200)
        measured[model] = (coherence[low].mean(), np.abs(coherence[frequencies >= 2000]).mean())
        if model == "kemar":
            assert np.all(coherence[(frequencies > 0) & (frequencies <= 150)] > 0.8)
    assert measured["kemar"][0] > 0.8 and measured["kemar"][1] < 0.15, measured
    assert abs(measured["sphere"][0]) < 0.3 and measured["sphere"][1] < 0.15, measured


def test_low_frequencies_and_the_diffuse_field_are_flat():
    """Diffuse-field equalised, and completed below ~150 Hz where the 1994 measurement has no energy."""
    hrtf = load_hrtf(SAMPLE_RATE)
    indices = np.arange(0, len(hrtf.directions), 7)
    responses = np.stack(
        [hrtf.render(4096, np.array([100.0]), np.array([1.0]), np.array([index])) for index in indices]
    )  # (directions, samples, ears)
    spectra = np.abs(np.fft.rfft(responses, axis=1))
    frequencies = np.fft.rfftfreq(4096, 1.0 / SAMPLE_RATE)
    low = (frequencies >= 20) & (frequencies <= 150)
    assert np.abs(20 * np.log10(spectra[:, low])).max() < 3.0
    weights = solid_angle_weights(hrtf.azimuth_elevation[indices, 1])
    diffuse = 10 * np.log10(np.einsum("d,dfe->f", weights, spectra**2) / 2)
    band = (frequencies >= 100) & (frequencies <= 7000)
    assert np.abs(diffuse[band]).max() < 2.0


def test_kemar_rirs_are_deterministic_and_models_are_checked(open_room):
    plan = open_room["kemar"].plan
    settings = RirSettings(sample_rate=SAMPLE_RATE, length_seconds=0.1, ism_order=2, binaural_model="kemar")
    first = SceneAcoustics(plan, settings, seed=3).binaural_rirs(LISTENER + [1.0, 2.0, 0.0], LISTENER, [0, 90], (4, 5))
    again = SceneAcoustics(plan, settings, seed=3).binaural_rirs(LISTENER + [1.0, 2.0, 0.0], LISTENER, [0, 90], (4, 5))
    np.testing.assert_array_equal(first, again)
    assert np.all(np.isfinite(first))
    with pytest.raises(ValueError, match="binaural model"):
        RirSettings(binaural_model="dummy-head")
