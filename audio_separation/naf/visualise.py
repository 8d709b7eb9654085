"""NAF pictures over the floor plan: loudness map, t-SNE of features as colours, and a linear probe from
features to the distance to the nearest wall (explained variance on held-out locations).

Needs the scene's floorplan.json (procedural worlds); real data without it is skipped with a message.
"""

from __future__ import annotations

import logging
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from audio_separation.naf.batches import denormalise  # noqa: E402
from audio_separation.naf.data import NafSceneData  # noqa: E402
from audio_separation.world.floorplan import FloorPlan  # noqa: E402
from audio_separation.world.soundspaces import SoundSpacesLayout  # noqa: E402

logger = logging.getLogger("audio_separation")


def read_floorplan(config, scene: str) -> FloorPlan | None:
    path = SoundSpacesLayout(config.WORLD.DATA_ROOT, config.WORLD.DATASET).floorplan_path(scene)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        return FloorPlan.from_json(handle.read())


def listener_grid(plan: FloorPlan, resolution: float) -> np.ndarray:
    """(P, 2) floor positions every `resolution` metres strictly inside a room."""
    x0, y0, x1, y1 = plan.bounds
    xs = np.arange(x0 + resolution / 2, x1, resolution)
    ys = np.arange(y0 + resolution / 2, y1, resolution)
    points = np.array([(x, y) for x in xs for y in ys if plan.room_at(x, y) >= 0])
    return points


@torch.no_grad()
def _predict_over(model, data: NafSceneData, listeners: np.ndarray, emitter: np.ndarray, device, chunk: int = 64):
    """Log-magnitudes (P, 2, F, T) and last hidden features (P, H) for listeners, heading index 0."""
    model.eval()
    spectra, features = [], []
    frames = data.max_len
    for start in range(0, len(listeners), chunk):
        listener = torch.from_numpy(listeners[start : start + chunk]).float().to(device)
        emitters = torch.from_numpy(np.repeat(emitter[None], len(listener), axis=0)).float().to(device)
        heading = torch.zeros(len(listener), dtype=torch.long, device=device)
        normalised = model.predict_spectrogram(listener, emitters, heading, frames).cpu().numpy()
        spectra.append(denormalise(normalised, data, float(getattr(model, "std_scale", 3.0))))
        features.append(model.hidden_features(listener, emitters, heading, frames).cpu().numpy())
    return np.concatenate(spectra), np.concatenate(features)


def _draw_plan(axis, plan: FloorPlan) -> None:
    for (ax_, ay_), (bx_, by_), _ in plan.wall_segments():
        axis.plot([ax_, bx_], [ay_, by_], color="black", linewidth=1.5)
    axis.set_aspect("equal")
    axis.set_xlabel("x (m)")
    axis.set_ylabel("y (m)")


def loudness_of_logmag(logmag: np.ndarray, log_eps: float) -> np.ndarray:
    """(P, 2, F, T) log-magnitudes -> (P,) sum over frames of the per-frame RMS, summed over ears."""
    magnitude = np.clip(np.exp(logmag) - log_eps, 0.0, None)
    return np.sqrt((magnitude**2).mean(axis=2)).sum(axis=(1, 2))


def linear_probe(features: np.ndarray, targets: np.ndarray, seed: int = 0) -> float:
    """Explained variance of a ridge regression from standardised features, on a held-out 25 %."""
    from sklearn.linear_model import Ridge
    from sklearn.metrics import explained_variance_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    train_x, test_x, train_y, test_y = train_test_split(features, targets, test_size=0.25, random_state=seed)
    scaler = StandardScaler().fit(train_x)
    probe = Ridge(alpha=1.0).fit(scaler.transform(train_x), train_y)
    return float(explained_variance_score(test_y, probe.predict(scaler.transform(test_x))))


def make_scene_plots(config, model, data: NafSceneData, out_dir: str, device) -> dict:
    """Write loudness.png, tsne.png, wall_probe.png into out_dir; returns paths and the probe's score."""
    plan = read_floorplan(config, data.scene)
    if plan is None:
        message = f"no floorplan.json for {data.scene} (real data): loudness / t-SNE / probe plots skipped"
        logger.info(message)
        return {"skipped": message}
    from sklearn.manifold import TSNE

    naf = config.NAF
    model.std_scale = float(naf.STD_SCALE)
    listeners = listener_grid(plan, float(naf.VIS_RESOLUTION))
    emitter_node = data.nodes.index(naf.VIS_EMITTER_NODE) if naf.VIS_EMITTER_NODE >= 0 else 0
    emitter = data.node_xy[emitter_node]
    logmags, features = _predict_over(model, data, listeners, emitter, device)
    paths = {}

    figure, axis = plt.subplots(figsize=(6, 5))
    loudness = loudness_of_logmag(logmags, data.params.log_eps)
    scatter = axis.scatter(
        listeners[:, 0], listeners[:, 1], c=np.log10(loudness + 1e-12), s=12, marker="s", cmap="inferno"
    )
    axis.plot(*emitter, marker="*", color="cyan", markersize=14, markeredgecolor="black")
    _draw_plan(axis, plan)
    figure.colorbar(scatter, label="log10 loudness (sum over frames of RMS, both ears)")
    axis.set_title(f"{data.scene}: predicted loudness, emitter at node {data.nodes[emitter_node]}")
    paths["loudness"] = os.path.join(out_dir, "loudness.png")
    figure.savefig(paths["loudness"], dpi=110, bbox_inches="tight")
    plt.close(figure)

    embedding = TSNE(
        n_components=3, init="pca", random_state=0, perplexity=min(30.0, len(features) - 1.0)
    ).fit_transform(features)
    colours = (embedding - embedding.min(0)) / (np.ptp(embedding, axis=0) + 1e-12)
    figure, axis = plt.subplots(figsize=(6, 5))
    axis.scatter(listeners[:, 0], listeners[:, 1], c=colours, s=12, marker="s")
    _draw_plan(axis, plan)
    axis.set_title(f"{data.scene}: t-SNE (3 components as RGB) of last hidden features")
    paths["tsne"] = os.path.join(out_dir, "tsne.png")
    figure.savefig(paths["tsne"], dpi=110, bbox_inches="tight")
    plt.close(figure)

    distances = np.array([plan.distance_to_nearest_wall(x, y) for x, y in listeners])
    explained = linear_probe(features, distances, seed=int(config.SEED))
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    scatter = axes[0].scatter(listeners[:, 0], listeners[:, 1], c=distances, s=12, marker="s", cmap="viridis")
    _draw_plan(axes[0], plan)
    figure.colorbar(scatter, ax=axes[0], label="distance to nearest wall (m)")
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    scaled = StandardScaler().fit_transform(features)
    fitted = Ridge(alpha=1.0).fit(scaled, distances).predict(scaled)
    scatter = axes[1].scatter(
        listeners[:, 0],
        listeners[:, 1],
        c=fitted,
        s=12,
        marker="s",
        cmap="viridis",
        vmin=distances.min(),
        vmax=distances.max(),
    )
    _draw_plan(axes[1], plan)
    figure.colorbar(scatter, ax=axes[1], label="linear probe from features (m)")
    figure.suptitle(f"{data.scene}: wall-distance probe, held-out explained variance {explained:.3f}")
    paths["wall_probe"] = os.path.join(out_dir, "wall_probe.png")
    figure.savefig(paths["wall_probe"], dpi=110, bbox_inches="tight")
    plt.close(figure)
    return {**paths, "wall_distance_probe_explained_variance": explained, "listener_positions": int(len(listeners))}
