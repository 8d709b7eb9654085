"""The lazy RIR store (world/rir_store.py) and its on-disk cache (world/rir_disk_cache.py): own lengths,
crops equal to scipy with and without caching, caches keyed by file identity and read options, corrupt
caches, partial RIR sets, nothing written into the data root."""

from __future__ import annotations

import logging
import os

import networkx as nx
import numpy as np
import pytest
from scipy.signal import fftconvolve

from audio_separation.audio.renderer import BinauralRenderer, clear_process_rir_spectra
from audio_separation.audio.stft import StftParams
from audio_separation.world import soundspaces as ss
from audio_separation.world.rir_disk_cache import DiskRirCache
from audio_separation.world.rir_store import open_scene_rirs

RATE = 16000
HEADINGS = [0, 90]


class Clips:
    def __init__(self, clip: np.ndarray) -> None:
        self._clip = clip

    def clip(self, path: str) -> np.ndarray:
        return self._clip


def write_scene(root: str, lengths=(300, 1200, 4000), skip=((90, 2, 0),)) -> tuple[ss.SoundSpacesLayout, dict]:
    """A 3-node scene whose RIRs have unequal lengths; the (heading, receiver, source) in skip are absent."""
    layout = ss.SoundSpacesLayout(root, "mp3d")
    graph = nx.Graph()
    for node in range(3):
        graph.add_node(node, point=[float(node), 0.0, 0.0])
    graph.add_edges_from([(0, 1), (1, 2)])
    ss.write_graph(layout.graph_path("s"), graph)
    rng = np.random.default_rng(0)
    written = {}
    for heading in HEADINGS:
        for receiver in range(3):
            for source in range(3):
                if (heading, receiver, source) in skip:
                    continue
                rir = rng.standard_normal((lengths[(receiver + source) % len(lengths)], 2)).astype(np.float32)
                ss.write_rir(layout.rir_path("s", ss.azimuth_of_heading(heading), receiver, source), rir, RATE)
                written[(heading, receiver, source)] = rir
    return layout, written


def files_under(folder: str) -> dict[str, float]:
    return {
        os.path.join(path, name): os.stat(os.path.join(path, name)).st_mtime_ns
        for path, _, names in os.walk(folder)
        for name in names
    }


def bump(path: str, rir: np.ndarray) -> None:
    """Rewrite a RIR file and make sure its mtime differs from before (coarse file-system clocks)."""
    previous = os.stat(path).st_mtime_ns
    ss.write_rir(path, rir, RATE)
    os.utime(path, ns=(previous + 10**9, previous + 10**9))


def test_lazy_reads_own_lengths_partial_sets_and_a_read_only_root(tmp_path) -> None:
    layout, written = write_scene(str(tmp_path / "data"))
    before = files_under(layout.root)
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"), disk_policy="all")
    assert rirs.reads == 0  # opening reads nothing
    for (heading, receiver, source), rir in written.items():
        np.testing.assert_array_equal(rirs.get(receiver, source, heading), rir)  # own length, exact
    assert rirs.reads == len(written)
    with pytest.raises(ss.MissingRIRError, match=r"s/270/2_0\.wav.*receiver 2, source 0, heading 90"):
        rirs.get(2, 0, 90)
    assert files_under(layout.root) == before  # nothing written into the data root
    # the second store is served by the disk cache, read-only views
    again = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"), disk_policy="all")
    for (heading, receiver, source), rir in written.items():
        np.testing.assert_array_equal(again.get(receiver, source, heading), rir)
    assert again.reads == 0 and again.disk_hits == len(written)
    # silence for the missing one only when allowed, even though a cache exists
    allowed = open_scene_rirs(
        layout, "s", HEADINGS, RATE, allow_missing=True, cache_dir=str(tmp_path / "cache"), disk_policy="all"
    )
    assert not allowed.get(2, 0, 90).any() and allowed.missing == 1


def test_a_cache_folder_that_cannot_be_written_is_warned_about_and_skipped(tmp_path, project_log) -> None:
    layout, written = write_scene(str(tmp_path / "data"))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(blocker))
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        np.testing.assert_array_equal(rirs.get(0, 1, 0), written[(0, 0, 1)])
    assert "not usable" in project_log.text and rirs.disk_cache() is None


@pytest.mark.parametrize("crop", ["same", "causal"])
@pytest.mark.parametrize("cached", [False, True])
def test_every_crop_equals_its_scipy_definition_with_or_without_caching(tmp_path, crop, cached) -> None:
    layout, written = write_scene(str(tmp_path / "data"))
    if cached:  # a packed cache with unequal lengths (padded to the longest) and the disk cache, both warm
        nodes = [0, 1, 2]
        array = np.zeros((2, 3, 3, 4000, 2), dtype=np.float32)
        lengths = np.ones((2, 3, 3), dtype=np.int64)
        for (heading, receiver, source), rir in written.items():
            array[HEADINGS.index(heading), receiver, source, : len(rir)] = rir
            lengths[HEADINGS.index(heading), receiver, source] = len(rir)
        ss.write_packed_cache(layout, "s", nodes, HEADINGS, RATE, array, lengths=lengths)
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"), disk_policy="all")
    assert (rirs.packed is not None) == cached
    clip = np.random.default_rng(1).standard_normal(3 * RATE).astype(np.float32)
    clear_process_rir_spectra()
    renderer = BinauralRenderer(StftParams(), RATE, RATE, False, 1.2, 2**24, 8, Clips(clip), crop=crop)
    for receiver, source in [(0, 0), (0, 1), (1, 2)]:
        rir = written[(0, receiver, source)]
        signal = renderer.binaural_sources(rirs, receiver, 0, [("clip", 1, source)])[0]
        chunk = clip[RATE : 2 * RATE].astype(np.float64)
        if crop == "same":
            expected = np.stack([fftconvolve(chunk, rir[:, ear], mode="same") for ear in range(2)])
        else:
            expected = np.stack([fftconvolve(chunk, rir[:, ear])[:RATE] for ear in range(2)])
        np.testing.assert_allclose(signal, expected, atol=2e-4 * np.abs(expected).max())
    assert rirs.reads == (0 if cached else 3)


def test_a_changed_wav_is_reread_from_the_packed_and_the_disk_cache(tmp_path, project_log) -> None:
    layout, written = write_scene(str(tmp_path / "data"), skip=())
    nodes = [0, 1, 2]
    array = np.zeros((2, 3, 3, 4000, 2), dtype=np.float32)
    lengths = np.ones((2, 3, 3), dtype=np.int64)
    for (heading, receiver, source), rir in written.items():
        array[HEADINGS.index(heading), receiver, source, : len(rir)] = rir
        lengths[HEADINGS.index(heading), receiver, source] = len(rir)
    ss.write_packed_cache(layout, "s", nodes, HEADINGS, RATE, array, lengths=lengths)
    cache_dir = str(tmp_path / "cache")
    path = layout.rir_path("s", 0, 0, 1)
    replaced = np.full_like(written[(0, 0, 1)], 0.25)
    bump(path, replaced)
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        np.testing.assert_array_equal(rirs.get(0, 1, 0), replaced)  # not the packed copy
    assert "changed since the packed cache" in project_log.text and rirs.reads == 1
    np.testing.assert_array_equal(rirs.get(0, 2, 0), written[(0, 0, 2)])  # unchanged: packed
    assert rirs.reads == 1
    # now the disk cache holds `replaced`; a second change is re-read again, never served stale
    again = np.full((77, 2), -0.5, dtype=np.float32)
    bump(path, again)
    fresh = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    np.testing.assert_array_equal(fresh.get(0, 1, 0), again)
    assert fresh.reads == 1


def test_caches_are_keyed_by_the_read_options(tmp_path) -> None:
    layout, written = write_scene(str(tmp_path / "data"))
    cache_dir = str(tmp_path / "cache")
    at_16k = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    at_16k.get(0, 1, 0)
    at_8k = open_scene_rirs(layout, "s", HEADINGS, 8000, cache_dir=cache_dir, disk_policy="all")
    assert at_8k.get(0, 1, 0).shape[0] == len(written[(0, 0, 1)]) // 2  # resampled, not the 16 kHz copy
    assert at_8k.reads == 1 and at_8k.disk_cache().folder != at_16k.disk_cache().folder
    at_16k_allowing = open_scene_rirs(
        layout, "s", HEADINGS, RATE, allow_missing=True, cache_dir=cache_dir, disk_policy="all"
    )
    at_16k_allowing.get(2, 0, 90)  # silence, not cached
    strict = open_scene_rirs(layout, "s", HEADINGS, RATE, allow_missing=False, cache_dir=cache_dir, disk_policy="all")
    with pytest.raises(ss.MissingRIRError):
        strict.get(2, 0, 90)
    assert (
        at_16k.disk_cache().folder
        != open_scene_rirs(layout, "s", HEADINGS, 22050, cache_dir=cache_dir, disk_policy="all").disk_cache().folder
    )


def test_truncated_or_corrupt_cache_files_are_dropped_with_a_warning_naming_them(tmp_path, project_log) -> None:
    layout, written = write_scene(str(tmp_path / "data"))
    cache_dir = str(tmp_path / "cache")
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    for receiver, source in [(0, 1), (1, 1), (2, 2)]:
        rirs.get(receiver, source, 0)
    disk = rirs.disk_cache()
    index, data = disk.index_path, disk.data_path
    disk.close()

    # a partial record at the end of the index
    with open(index, "ab") as handle:
        handle.write(b"\x01\x02\x03")
    project_log.clear()
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        reopened = DiskRirCache(cache_dir, _key(layout))
    assert "partial record" in project_log.text and index in project_log.text and len(reopened) == 3
    reopened.close()

    # a truncated data file: the records past its end are dropped, those RIRs re-read
    os.truncate(data, os.path.getsize(data) - 100)
    project_log.clear()
    store = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        np.testing.assert_array_equal(store.get(2, 2, 0), written[(0, 2, 2)])
    assert "truncated" in project_log.text and index in project_log.text and store.reads == 1

    # flipped bytes inside an entry: the checksum catches them
    with open(data, "r+b") as handle:
        handle.seek(8)
        handle.write(b"\xff" * 8)
    project_log.clear()
    store = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=cache_dir, disk_policy="all")
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        np.testing.assert_array_equal(store.get(0, 1, 0), written[(0, 0, 1)])
    assert "corrupt" in project_log.text and data in project_log.text and store.reads == 1

    # a bad header: the folder is reset
    with open(index, "r+b") as handle:
        handle.write(b"garbage!")
    project_log.clear()
    with project_log.at_level(logging.WARNING, logger="audio_separation"):
        reset = DiskRirCache(cache_dir, _key(layout))
    assert "bad header" in project_log.text and index in project_log.text and len(reset) == 0


def _key(layout):
    from audio_separation.world.rir_disk_cache import cache_key
    from audio_separation.world.rir_store import RESAMPLED_RATES

    return cache_key(layout.root, layout.dataset, "s", RATE, RESAMPLED_RATES)


def test_the_default_policy_caches_only_resampled_rirs(tmp_path) -> None:
    layout, written = write_scene(str(tmp_path / "data"), skip=())
    ss.write_rir(layout.rir_path("s", 0, 1, 1), np.ones((4410, 2), dtype=np.float32), 44100)  # Replica rate
    rirs = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"))  # "resampled"
    rirs.get(0, 1, 0)  # native 16 kHz: read, not cached
    assert rirs.get(1, 1, 0).shape == (1600, 2)  # resampled to 16 kHz, cached
    assert len(rirs.disk_cache()) == 1
    again = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"))
    again.get(1, 1, 0)
    assert again.disk_hits == 1 and again.reads == 0
    off = open_scene_rirs(layout, "s", HEADINGS, RATE, cache_dir=str(tmp_path / "cache"), disk_policy="off")
    off.get(1, 1, 0)
    assert off.disk_cache() is None and off.reads == 1
