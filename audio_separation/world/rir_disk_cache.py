"""The on-disk RIR cache of one scene: only the RIRs actually used, appended, memory-mapped.

It lives under WORLD.CACHE_DIR (never inside the data root, which may be read-only), in a folder keyed by
everything that decides the stored samples (cache_key: format, data root, dataset, scene, sample rate,
the rates that may be resampled):

    <cache_dir>/rirs/<dataset>/<scene>/<sha1 of the key, 16 hex>/
        key.json    the key in clear (for people)
        rirs.f32    float32 samples, appended; RIR i is (length_i, 2) at a recorded offset
        index.bin   16-byte header (magic + format) then one 48-byte record per appended RIR:
                    heading, receiver, source, offset, length, source size, source mtime_ns, crc32

Each record carries the identity (size, mtime_ns) of the wav it was read from: a lookup that finds a
different identity misses (the file is re-read and appended again; the latest record of a key wins), so a
changed file is never served stale. Crc32 of the samples is checked on every lookup (a lookup happens
once per RIR per process: the renderer keeps spectra). A partial record at the end of index.bin, or
records pointing past the end of rirs.f32 (a truncated file), are dropped with a warning naming the
file; a bad header resets the folder with a warning naming it. Appends take an exclusive flock on
index.bin, so env processes sharing a scene share the cache. The folder only grows; delete it to
compact (docs/real-data.md).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import struct
import zlib

import numpy as np

from audio_separation.common.files import write_json_atomic

logger = logging.getLogger("audio_separation")

DISK_CACHE_FORMAT = 1
MAGIC = b"ASRIRIDX" + struct.pack("<Q", DISK_CACHE_FORMAT)  # 16 bytes
RECORD = struct.Struct("<iiiqqqqI")  # heading, receiver, source, offset, length, size, mtime_ns, crc32


def cache_key(root: str, dataset: str, scene: str, sample_rate: int, allowed_rates: tuple[int, ...]) -> dict:
    """Everything that decides the samples stored for a scene (besides each file's identity)."""
    return {
        "format": DISK_CACHE_FORMAT,
        "root": os.path.realpath(root),
        "dataset": dataset,
        "scene": scene,
        "sample_rate": int(sample_rate),
        "allowed_rates": sorted(int(rate) for rate in allowed_rates),
    }


def cache_folder(cache_dir: str, key: dict) -> str:
    digest = hashlib.sha1(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return os.path.join(cache_dir, "rirs", key["dataset"], key["scene"], digest)


class DiskRirCache:
    """Append-only, memory-mapped RIRs of one scene keyed by (heading, receiver, source) + file identity.
    Raises OSError when the folder cannot be created or written (the caller then runs without it)."""

    def __init__(self, cache_dir: str, key: dict) -> None:
        self.folder = cache_folder(cache_dir, key)
        os.makedirs(self.folder, exist_ok=True)
        self.index_path = os.path.join(self.folder, "index.bin")
        self.data_path = os.path.join(self.folder, "rirs.f32")
        key_path = os.path.join(self.folder, "key.json")
        if not os.path.isfile(key_path):
            write_json_atomic(key_path, key, sort_keys=True)
        self._open_files()
        self._records: dict[tuple[int, int, int], tuple[int, int, int, int, int]] = {}
        self._position = 0  # bytes of index.bin already parsed
        self._map: np.ndarray | None = None
        self.appended = 0
        with self._locked(fcntl.LOCK_EX):
            header = os.pread(self._index, len(MAGIC), 0)
            if header != MAGIC:
                if header:
                    logger.warning("RIR cache index %s has a bad header: resetting the cache folder", self.index_path)
                os.ftruncate(self._index, 0)
                os.ftruncate(self._data, 0)
                os.pwrite(self._index, MAGIC, 0)
            self._position = len(MAGIC)
            self._read_tail()

    # ------------------------------------------------------------------------------------------ internals
    def _open_files(self) -> None:
        """Own descriptors per process: flock locks belong to an open file, which a fork would share."""
        self._index = os.open(self.index_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._data = os.open(self.data_path, os.O_RDWR | os.O_CREAT, 0o644)
        self._pid = os.getpid()

    def _check_process(self) -> None:
        if self._pid != os.getpid():
            self._open_files()  # the parent's descriptors stay open for the parent

    def _locked(self, mode: int):
        cache = self

        class _Lock:
            def __enter__(self) -> None:
                fcntl.flock(cache._index, mode)

            def __exit__(self, *exc) -> None:
                fcntl.flock(cache._index, fcntl.LOCK_UN)

        return _Lock()

    def _read_tail(self) -> None:
        """Parse records appended since the last call (by this or another process); drop a partial or
        dangling tail with a warning naming the file. Call with the lock held."""
        size = os.fstat(self._index).st_size
        if size <= self._position:
            return
        payload = os.pread(self._index, size - self._position, self._position)
        whole = len(payload) - len(payload) % RECORD.size
        data_floats = os.fstat(self._data).st_size // 4
        for start in range(0, whole, RECORD.size):
            heading, receiver, source, offset, length, file_size, mtime, crc = RECORD.unpack_from(payload, start)
            if offset < 0 or length < 1 or offset + 2 * length > data_floats:
                logger.warning(
                    "RIR cache %s is truncated (a record points past the end of %s): dropping %d record(s)",
                    self.index_path,
                    self.data_path,
                    (whole - start) // RECORD.size,
                )
                whole = start
                break
            self._records[(heading, receiver, source)] = (offset, length, file_size, mtime, crc)
        if whole != len(payload):
            if whole == len(payload) - len(payload) % RECORD.size:
                logger.warning("RIR cache index %s ends in a partial record: dropping it", self.index_path)
            os.ftruncate(self._index, self._position + whole)
        self._position += whole

    def _samples(self, offset: int, length: int) -> np.ndarray:
        end = offset + 2 * length
        if self._map is None or self._map.shape[0] < end:
            floats = os.fstat(self._data).st_size // 4
            self._map = np.memmap(self.data_path, dtype=np.float32, mode="r", shape=(floats,))
        return self._map[offset:end].reshape(length, 2)

    # ------------------------------------------------------------------------------------------ API
    def lookup(self, key: tuple[int, int, int], identity: tuple[int, int]) -> np.ndarray | None:
        """The cached RIR (samples, 2) read from a file of this identity, else None."""
        self._check_process()
        record = self._records.get(key)
        if record is None or (record[2], record[3]) != identity:
            with self._locked(fcntl.LOCK_SH):
                self._read_tail()
            record = self._records.get(key)
            if record is None or (record[2], record[3]) != identity:
                return None
        offset, length, _, _, crc = record
        rir = self._samples(offset, length)
        if zlib.crc32(rir) != crc:
            logger.warning(
                "RIR cache %s: the entry of %s is corrupt (checksum): re-reading the wav", self.data_path, key
            )
            return None
        return rir

    def append(self, key: tuple[int, int, int], identity: tuple[int, int], rir: np.ndarray) -> None:
        """Store a RIR (samples, 2) read from a file of this identity."""
        samples = np.ascontiguousarray(rir, dtype=np.float32)
        if samples.ndim != 2 or samples.shape[1] != 2 or samples.shape[0] < 1:
            raise ValueError(f"a cached RIR must be (samples >= 1, 2), got {samples.shape}")
        payload = samples.tobytes()
        self._check_process()
        with self._locked(fcntl.LOCK_EX):
            self._read_tail()
            size = os.fstat(self._data).st_size
            offset = -(-size // 8) * 2  # floats, at a whole (samples, 2) boundary after any partial write
            os.pwrite(self._data, payload, offset * 4)
            record = (offset, samples.shape[0], identity[0], identity[1], zlib.crc32(payload))
            os.pwrite(self._index, RECORD.pack(*key, *record), self._position)
            self._position += RECORD.size
            self._records[key] = record
        self.appended += 1

    def __len__(self) -> int:
        return len(self._records)

    def close(self) -> None:
        if getattr(self, "_pid", None) == os.getpid():
            for descriptor in (self._index, self._data):
                try:
                    os.close(descriptor)
                except OSError:
                    pass
        self._pid = None
        self._map = None

    def __del__(self) -> None:
        self.close()
