"""Binaural room impulse responses for procedural apartments: image sources + statistical tail + a
spherical-head binaural model, with doorways coupling the rooms.

What is modelled (and what is approximate — read before trusting numbers):
- Early part, per rectangular room: the image-source method of pyroomacoustics (shoebox, uniform energy
  absorption per room chosen by Eyring's formula for a target T60, frequency independent) up to
  `ism_order`; every image arrival earlier than the first arrival of the highest order is kept.
- Late part: from that time on, Gaussian noise whose power follows the image-source method's own
  statistical limit, c / (4 pi V fs) * (1 - a)^(c t S / 4V) per sample; this decays with exactly the
  Eyring T60 of the room and continues the early part's level. With the "sphere" model the noise is
  independent per ear (a diffuse field with zero interaural coherence: real heads have coherent low
  frequencies, this model does not); with "kemar" it has the KEMAR diffuse-field coherence.
- Binaural listener, RirSettings.binaural_model (config WORLD.BINAURAL_MODEL):
  "sphere": two ears on a rigid sphere of radius 0.09 m (ears 0.18 m apart), oriented by the
  heading. Each arrival gets the Woodworth interaural time difference and a per-ear Brown-Duda
  one-pole/one-zero head-shadow filter (low frequencies unchanged, high frequencies boosted up to +6 dB
  on the near side and cut to -20 dB behind the head). No pinnae, no elevation cues, no torso: this is
  not an HRTF, and front/back confusions are as for a sphere. The late tail is independent per ear.
  "kemar": each arrival is filtered by the measured MIT KEMAR HRIR nearest its 3-D direction (elevation
  included; world/hrtf.py, diffuse-field equalised, at the RIR rate), placed so that the head-centre
  arrival is at distance / c; the late tail is two noises filtered to the diffuse-field interaural
  coherence of that HRTF set (0.98 at 100 Hz, 0.71 at 200 Hz, zero near 500 Hz, |g| < 0.1 above 1 kHz).
  Still approximate: far-field HRIRs measured at 1.4 m for every distance, nearest direction instead of
  interpolation, no measurements below -40 degrees elevation (the -40 degree ring is used), low
  frequencies completed (world/hrtf.py). docs/hrtf.md has the numbers.
- Between rooms: sound travels through doorways only (walls are perfectly rigid to transmission). The
  path through the sequence of doors with the shortest total length is used; each door acts as a
  secondary point source 0.25 m inside each room: the response is the chain of room responses
  (source -> door, door -> door, door -> listener) convolved, times a constant doorway strength
  g = 2 pi x 0.5 m per door: with it, a 1 m + 1 m path through one door has the free-field amplitude of
  a 2 m path times 0.5 (-6 dB, the edge-diffraction loss). A constant g (rather than one fitted per
  path) keeps the reverberant parts of the chain at plausible levels. The door passes frequencies whose
  wavelength exceeds twice its width poorly: g carries a first-order high-pass at c / (2 x 1 m) = 172 Hz
  (an aperture's transmission falls like frequency below that), which also removes the DC that chained
  image-source responses would otherwise pile up. Only the shortest route is used, so sound through
  several doors does not add up.
- A source at the listener's own node is placed 0.25 m in front of the head (distance 0 is singular).
Everything is deterministic given the seed (noise seeded per (scene, source, receiver, heading)).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import pyroomacoustics as pra
from scipy.signal import lfilter

from audio_separation.world.floorplan import FloorPlan, Room
from audio_separation.world.hrtf import HrtfSet, load_hrtf

SPEED_OF_SOUND = 343.0  # m/s
HEAD_RADIUS = 0.09  # m; ears 0.18 m apart
DOOR_INSET = 0.25  # m; where a doorway's secondary source sits inside each room
DOOR_STRENGTH = 2 * math.pi * 0.5  # metres; secondary-source strength of a doorway (see module docstring)
DOOR_CUTOFF_HZ = SPEED_OF_SOUND / 2.0  # a 1 m wide doorway passes wavelengths up to 2 m freely
MIN_DISTANCE = 0.25  # m; a source closer than this to the head is moved to this distance in front
FRACTIONAL_DELAY_TAPS = 8  # windowed-sinc taps per image arrival
BINAURAL_MODELS = ("sphere", "kemar")  # spherical head (analytic) or measured KEMAR HRTF (world/hrtf.py)


@dataclass(frozen=True)
class RirSettings:
    sample_rate: int = 16000  # Hz
    ism_order: int = 8  # image-source reflection order of the early part
    length_seconds: float = 1.0  # every RIR is cut to this length
    late_tail: bool = True  # add the statistical late tail (False: image sources only)
    binaural_model: str = "kemar"  # "kemar" (measured HRTF) or "sphere" (analytic head); see the docstring

    def __post_init__(self) -> None:
        if self.binaural_model not in BINAURAL_MODELS:
            raise ValueError(f"unknown binaural model {self.binaural_model!r}; choose one of {BINAURAL_MODELS}")


# ==================================================================================== image sources
def image_sources(room: Room, position: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image sources of a point in a rectangular room, from pyroomacoustics.

    position: (x, y, z) in world floor-plan coordinates (z above the floor).
    Returns (positions (K, 3) in world coordinates, amplitude reflection factors (K,), orders (K,)).
    """
    shoebox = pra.ShoeBox(
        [room.width, room.depth, room.height],
        fs=16000,
        materials=pra.Material(float(room.absorption)),
        max_order=order,
        air_absorption=False,
    )
    local = np.array([position[0] - room.x0, position[1] - room.y0, position[2]], dtype=float)
    shoebox.add_source(local)
    shoebox.add_microphone(np.array([room.width / 2, room.depth / 2, room.height / 2]))
    shoebox.image_source_model()
    source = shoebox.sources[0]
    positions = source.images.T + np.array([room.x0, room.y0, 0.0])
    return positions, source.damping[0].astype(float), source.orders.astype(int)


# ==================================================================================== rendering
def _sinc_taps(delays_in_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer sample indices (K, T) and Hann-windowed sinc weights (K, T) for fractional delays."""
    half = FRACTIONAL_DELAY_TAPS // 2
    base = np.floor(delays_in_samples).astype(np.int64)
    offsets = np.arange(-half + 1, half + 1)
    indices = base[:, None] + offsets[None, :]
    distance = indices - delays_in_samples[:, None]
    window = 0.5 + 0.5 * np.cos(np.pi * distance / (half + 1))
    return indices, np.sinc(distance) * window


def _accumulate(length: int, delays: np.ndarray, amplitudes: np.ndarray) -> np.ndarray:
    indices, weights = _sinc_taps(delays)
    weights = weights * amplitudes[:, None]
    valid = (indices >= 0) & (indices < length)
    return np.bincount(indices[valid], weights=weights[valid], minlength=length)[:length]


def _head_shadow_highpass(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """First-order high-pass H(s) = (s / w1) / (1 + s / w1), w1 = 2 c / a (Brown-Duda corner), bilinear."""
    w1 = 2 * SPEED_OF_SOUND / HEAD_RADIUS
    k = 2 * sample_rate / w1
    return np.array([k, -k]) / (1 + k), np.array([1.0, (1 - k) / (1 + k)])


def _brown_duda_alpha(cos_to_ear: np.ndarray) -> np.ndarray:
    """High-frequency gain of the head shadow for the angle between the arrival and the ear axis."""
    theta = np.degrees(np.arccos(np.clip(cos_to_ear, -1.0, 1.0)))
    alpha_min, theta_min = 0.1, 150.0
    return (1 + alpha_min / 2) + (1 - alpha_min / 2) * np.cos(np.radians(theta / theta_min * 180.0))


def facing_vectors(heading: float) -> tuple[np.ndarray, np.ndarray]:
    """(forward, left) unit vectors in the floor plane for a habitat heading in degrees."""
    h = math.radians(heading)
    return np.array([-math.sin(h), math.cos(h), 0.0]), np.array([-math.cos(h), -math.sin(h), 0.0])


def render_binaural(
    images: np.ndarray,
    reflection: np.ndarray,
    listener: np.ndarray,
    headings: list[int],
    length: int,
    sample_rate: int,
) -> np.ndarray:
    """Early binaural response (headings, length, 2) of image arrivals at a spherical head."""
    vectors = images - listener[None, :]
    distance = np.linalg.norm(vectors, axis=1)
    close = distance < MIN_DISTANCE
    amplitude = reflection / (4 * np.pi * np.maximum(distance, MIN_DISTANCE))
    delay = np.maximum(distance, MIN_DISTANCE) / SPEED_OF_SOUND
    b, a = _head_shadow_highpass(sample_rate)
    out = np.zeros((len(headings), length, 2))
    for h_index, heading in enumerate(headings):
        forward, left = facing_vectors(heading)
        with np.errstate(invalid="ignore", divide="ignore"):
            cos_left = np.where(close, 0.0, vectors @ left / np.maximum(distance, 1e-9))
        lateral = np.arcsin(np.clip(cos_left, -1, 1))  # +: towards the left ear
        itd = HEAD_RADIUS / SPEED_OF_SOUND * (lateral + np.sin(lateral))
        for ear, sign in ((0, 1.0), (1, -1.0)):
            ear_delay = (delay - sign * itd / 2) * sample_rate
            alpha = _brown_duda_alpha(sign * cos_left)
            flat = _accumulate(length, ear_delay, amplitude)
            shadow = _accumulate(length, ear_delay, amplitude * (alpha - 1.0))
            out[h_index, :, ear] = flat + lfilter(b, a, shadow)
    return out


def render_binaural_hrtf(
    images: np.ndarray,
    reflection: np.ndarray,
    listener: np.ndarray,
    headings: list[int],
    length: int,
    hrtf: HrtfSet,
) -> np.ndarray:
    """Early binaural response (headings, length, 2): each arrival through the nearest measured HRIR."""
    vectors = images - listener[None, :]
    distance = np.linalg.norm(vectors, axis=1)
    close = distance < MIN_DISTANCE
    amplitude = reflection / (4 * np.pi * np.maximum(distance, MIN_DISTANCE))
    delay = np.maximum(distance, MIN_DISTANCE) / SPEED_OF_SOUND * hrtf.sample_rate
    unit = vectors / np.maximum(distance, 1e-9)[:, None]
    up = np.array([0.0, 0.0, 1.0])
    out = np.zeros((len(headings), length, 2))
    for h_index, heading in enumerate(headings):
        forward, left = facing_vectors(heading)
        local = np.stack([unit @ forward, unit @ left, unit @ up], axis=1)
        local[close] = (1.0, 0.0, 0.0)  # as for the sphere: a source at the head is heard from the front
        out[h_index] = hrtf.render(length, delay, amplitude, hrtf.nearest(local))
    return out


def render_mono(
    images: np.ndarray, reflection: np.ndarray, listener: np.ndarray, length: int, sample_rate: int
) -> np.ndarray:
    """Early omnidirectional response (length,) at a point."""
    distance = np.maximum(np.linalg.norm(images - listener[None, :], axis=1), MIN_DISTANCE)
    return _accumulate(length, distance / SPEED_OF_SOUND * sample_rate, reflection / (4 * np.pi * distance))


def early_part_end(images: np.ndarray, orders: np.ndarray, listener: np.ndarray, order: int) -> float:
    """Seconds up to which the image list is complete: the first arrival of the highest order."""
    top = orders == order
    if not np.any(top):
        return math.inf
    return float(np.min(np.linalg.norm(images[top] - listener[None, :], axis=1)) / SPEED_OF_SOUND)


def late_tail(
    room: Room,
    start: float,
    length: int,
    sample_rate: int,
    rng: np.random.Generator,
    channels: int,
    hrtf: HrtfSet | None = None,
) -> np.ndarray:
    """Statistical reverberant tail (length, channels) from `start` seconds on, continuing the ISM level.

    Without hrtf the channels are independent noises; with it (channels = 2) the two ears have the
    diffuse-field interaural coherence of that HRTF set."""
    t = np.arange(length) / sample_rate
    power = (
        SPEED_OF_SOUND
        / (4 * np.pi * room.volume * sample_rate)
        * np.power(1.0 - room.absorption, SPEED_OF_SOUND * t * room.surface / (4 * room.volume))
    )
    envelope = np.where(t >= start, np.sqrt(power), 0.0)
    if hrtf is not None:
        if channels != 2:
            raise ValueError(f"a tail with interaural coherence has 2 channels, not {channels}")
        return hrtf.diffuse_noise(rng, length) * envelope[:, None]
    return rng.standard_normal((length, channels)) * envelope[:, None]


# ==================================================================================== rooms and doors
@dataclass(frozen=True)
class _Hop:
    room: int
    start: np.ndarray  # emitter point (3,)
    end: np.ndarray  # receiver point (3,)


def door_points(plan: FloorPlan, door_index: int, height: float) -> dict[int, np.ndarray]:
    """The door's secondary-source point inside each of its two rooms."""
    door = plan.doors[door_index]
    cx, cy = door.center
    points = {}
    for room_index in (door.room_a, door.room_b):
        room = plan.rooms[room_index]
        if door.vertical:
            x = cx + (DOOR_INSET if room.x0 >= cx - 1e-9 else -DOOR_INSET)
            points[room_index] = np.array([x, cy, height])
        else:
            y = cy + (DOOR_INSET if room.y0 >= cy - 1e-9 else -DOOR_INSET)
            points[room_index] = np.array([cx, y, height])
    return points


def door_route(plan: FloorPlan, source: np.ndarray, receiver: np.ndarray) -> list[_Hop]:
    """Shortest sequence of room hops from source to receiver through doorways (Dijkstra)."""
    source_room = plan.room_at(source[0], source[1])
    receiver_room = plan.room_at(receiver[0], receiver[1])
    if source_room < 0 or receiver_room < 0:
        raise ValueError(f"point outside the floor plan: source {source[:2]} / receiver {receiver[:2]}")
    if source_room == receiver_room:
        return [_Hop(source_room, source, receiver)]
    # graph states: ("door", index, room side) ; edges inside a room and across a door
    points = {i: door_points(plan, i, source[2]) for i in range(len(plan.doors))}
    best: dict = {("src",): 0.0}
    previous: dict = {}
    queue = [(0.0, 0, ("src",))]
    counter = 1
    while queue:
        cost, _, state = heapq.heappop(queue)
        if cost > best.get(state, math.inf):
            continue
        if state == ("dst",):
            break
        room, here = (source_room, source) if state == ("src",) else (state[2], points[state[1]][state[2]])
        moves = []
        if room == receiver_room:
            moves.append((("dst",), float(np.linalg.norm(receiver - here))))
        for door_index, door in enumerate(plan.doors):
            if room not in (door.room_a, door.room_b) or (state != ("src",) and state[1] == door_index):
                continue
            entry = points[door_index][room]
            other = door.other(room)
            gap = float(np.linalg.norm(points[door_index][other] - entry))
            moves.append((("door", door_index, other), float(np.linalg.norm(entry - here)) + gap))
        for nxt, step in moves:
            if cost + step < best.get(nxt, math.inf):
                best[nxt] = cost + step
                previous[nxt] = state
                heapq.heappush(queue, (cost + step, counter, nxt))
                counter += 1
    if ("dst",) not in previous:
        raise ValueError(f"no doorway route from room {source_room} to room {receiver_room} in {plan.name}")
    states = [("dst",)]
    while states[-1] != ("src",):
        states.append(previous[states[-1]])
    states.reverse()
    hops, room, start = [], source_room, source
    for state in states[1:]:
        if state == ("dst",):
            hops.append(_Hop(room, start, receiver))
        else:
            door_index, other = state[1], state[2]
            hops.append(_Hop(room, start, points[door_index][room]))
            room, start = other, points[door_index][other]
    return hops


class SceneAcoustics:
    """Computes every binaural RIR of one floor plan; caches image sources per (room, emitter point)."""

    def __init__(self, plan: FloorPlan, settings: RirSettings, seed: int) -> None:
        self.plan = plan
        self.settings = settings
        self.seed = seed
        self.length = int(round(settings.length_seconds * settings.sample_rate))
        self._images: dict = {}
        self.hrtf = load_hrtf(settings.sample_rate) if settings.binaural_model == "kemar" else None

    def _images_of(self, room: int, point: np.ndarray):
        key = (room, *np.round(point, 6))
        if key not in self._images:
            self._images[key] = image_sources(self.plan.rooms[room], point, self.settings.ism_order)
        return self._images[key]

    def _room_response(
        self, hop: _Hop, headings: list[int] | None, rng: np.random.Generator, length: int
    ) -> np.ndarray:
        """Room response of one hop: binaural (headings, length, 2) if headings else mono (length,)."""
        room = self.plan.rooms[hop.room]
        sr = self.settings.sample_rate
        images, reflection, orders = self._images_of(hop.room, hop.start)
        end = early_part_end(images, orders, hop.end, self.settings.ism_order) if self.settings.late_tail else math.inf
        keep = np.linalg.norm(images - hop.end[None, :], axis=1) / SPEED_OF_SOUND < end
        images, reflection = images[keep], reflection[keep]
        if headings is None:
            response = render_mono(images, reflection, hop.end, length, sr)
            if self.settings.late_tail:
                response = response + late_tail(room, end, length, sr, rng, 1)[:, 0]
            return response
        if self.hrtf is None:
            response = render_binaural(images, reflection, hop.end, headings, length, sr)
        else:
            response = render_binaural_hrtf(images, reflection, hop.end, headings, length, self.hrtf)
        if self.settings.late_tail:
            for h in range(len(headings)):
                response[h] += late_tail(room, end, length, sr, rng, 2, self.hrtf)
        return response

    def binaural_rirs(
        self, source: np.ndarray, receiver: np.ndarray, headings: list[int], noise_key: tuple[int, ...]
    ) -> np.ndarray:
        """(headings, length, 2) float32 RIRs for a source and a listener (world points with z)."""
        rng = np.random.default_rng([self.seed, *noise_key])
        source = np.asarray(source, dtype=float)
        receiver = np.asarray(receiver, dtype=float)
        if np.linalg.norm(source[:2] - receiver[:2]) < MIN_DISTANCE:
            source = source.copy()
            # each heading needs its own "in front" point: render per heading
            out = np.zeros((len(headings), self.length, 2))
            for h, heading in enumerate(headings):
                forward, _ = facing_vectors(heading)
                moved = receiver + forward * MIN_DISTANCE
                out[h] = self._room_response(
                    _Hop(self.plan.room_at(*receiver[:2]), moved, receiver), [heading], rng, self.length
                )[0]
            return out.astype(np.float32)
        hops = door_route(self.plan, source, receiver)
        if len(hops) == 1:
            return self._room_response(hops[0], headings, rng, self.length).astype(np.float32)
        return self._chained(hops, headings, rng).astype(np.float32)

    def _chained(self, hops: list[_Hop], headings: list[int], rng: np.random.Generator) -> np.ndarray:
        length = self.length
        sr = self.settings.sample_rate
        n_fft = 1 << int(math.ceil(math.log2(length * len(hops))))
        spectrum = np.ones(n_fft // 2 + 1, dtype=complex)
        for hop in hops[:-1]:
            spectrum = spectrum * np.fft.rfft(self._room_response(hop, None, rng, length), n_fft)
        last = self._room_response(hops[-1], headings, rng, length)
        # doorway gaps (between the two inset points of each door) as pure delay
        gaps = [float(np.linalg.norm(hops[i + 1].start - hops[i].end)) for i in range(len(hops) - 1)]
        frequencies = np.fft.rfftfreq(n_fft, 1.0 / sr)
        ratio = 1j * frequencies / DOOR_CUTOFF_HZ
        gain = (DOOR_STRENGTH * ratio / (1 + ratio)) ** (len(hops) - 1)
        shift = sum(gaps) / SPEED_OF_SOUND
        spectrum = spectrum * gain * np.exp(-2j * np.pi * frequencies * shift)
        out = np.fft.irfft(np.fft.rfft(last, n_fft, axis=1) * spectrum[None, :, None], n_fft, axis=1)
        return out[:, :length]
