#!/usr/bin/env python
"""Write one PNG per scene of a world: floor plan with furniture and the navigation graph, an example
binaural RIR and its energy-decay curve, and egocentric views (the listener's, and all four headings at
the node nearest the apartment's centre) — so a person can see what was built. With a partial RIR set the
example RIR is the farthest source that has one, and the source nodes with RIRs are ringed in red.

    python scripts/show_world.py --world data/worlds/default --output-dir outputs/world_pngs
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from audio_separation.audio.metrics import schroeder_decay_db, t60  # noqa: E402
from audio_separation.world.floorplan import FloorPlan  # noqa: E402
from audio_separation.world.soundspaces import (  # noqa: E402
    SoundSpacesLayout,
    azimuth_of_heading,
    read_graph,
    read_observations,
    read_points,
    read_rir,
)


def draw_scene(layout: SoundSpacesLayout, scene: str, path: str, sample_rate: int = 16000) -> None:
    points = read_points(layout.points_path(scene))
    graph = read_graph(layout.graph_path(scene))
    figure = plt.figure(figsize=(18, 12))
    grid = figure.add_gridspec(3, 4)
    plan_axes = figure.add_subplot(grid[0:2, 0:2])
    plan = None
    if os.path.isfile(layout.floorplan_path(scene)):
        with open(layout.floorplan_path(scene)) as handle:
            plan = FloorPlan.from_json(handle.read())
        for room in plan.rooms:
            plan_axes.add_patch(
                plt.Rectangle(
                    (room.x0, room.y0), room.width, room.depth, color=np.array(room.wall_color) / 255, alpha=0.35
                )
            )
            plan_axes.text(
                (room.x0 + room.x1) / 2,
                room.y1 - 0.3,
                f"{room.kind}\nT60 {room.target_t60:.2f} s",
                ha="center",
                va="top",
                fontsize=8,
            )
        for item in plan.furniture:
            plan_axes.add_patch(
                plt.Rectangle(
                    (item.x0, item.y0),
                    item.x1 - item.x0,
                    item.y1 - item.y0,
                    facecolor=np.array(item.color) / 255,
                    edgecolor="black",
                    linewidth=0.8,
                )
            )
            plan_axes.text(
                (item.x0 + item.x1) / 2, (item.y0 + item.y1) / 2, item.kind, ha="center", va="center", fontsize=6
            )
        for start, end, _ in plan.wall_segments():
            plan_axes.plot([start[0], end[0]], [start[1], end[1]], color="black", linewidth=2.5)
    for u, v in graph.edges():
        plan_axes.plot([points[u][0], points[v][0]], [points[u][1], points[v][1]], color="tab:blue", linewidth=1)
    xy = np.array([points[n][:2] for n in sorted(points)])
    plan_axes.scatter(xy[:, 0], xy[:, 1], s=18, color="tab:blue", zorder=3)
    nodes = sorted(points)
    receiver = nodes[0]
    with_rirs = [n for n in nodes if os.path.isfile(layout.rir_path(scene, azimuth_of_heading(0), receiver, n))]
    if not with_rirs:
        raise FileNotFoundError(f"{scene}: no RIR with receiver {receiver} under {layout.rir_scene_dir(scene)}")
    source = max(with_rirs, key=lambda n: np.linalg.norm(points[n][:2] - points[receiver][:2]))
    if len(with_rirs) < len(nodes):  # a partial RIR set: show where sources can be
        sites = np.array([points[n][:2] for n in with_rirs])
        plan_axes.scatter(
            sites[:, 0], sites[:, 1], s=90, facecolors="none", edgecolors="tab:red", zorder=3, label="source nodes"
        )
    plan_axes.scatter(
        *points[receiver][:2],
        marker="^",
        s=120,
        color="tab:green",
        zorder=4,
        label=f"listener (node {receiver}, heading 0)",
    )
    plan_axes.scatter(
        *points[source][:2], marker="*", s=180, color="tab:red", zorder=4, label=f"source (node {source})"
    )
    plan_axes.set_aspect("equal")
    plan_axes.set_title(f"{scene}: {len(points)} nodes, {graph.number_of_edges()} edges")
    plan_axes.set_xlabel("x (m)")
    plan_axes.set_ylabel("y (m)")

    rir = read_rir(layout.rir_path(scene, azimuth_of_heading(0), receiver, source), sample_rate)
    time = np.arange(rir.shape[0]) / sample_rate
    rir_axes = figure.add_subplot(grid[0, 2])
    rir_axes.plot(time, rir[:, 0], label="left", linewidth=0.6)
    rir_axes.plot(time, rir[:, 1], label="right", linewidth=0.6, alpha=0.7)
    rir_axes.set_title(f"binaural RIR, receiver {receiver} <- source {source}")
    rir_axes.set_xlabel("time (s)")
    rir_axes.legend(fontsize=8)
    decay_axes = figure.add_subplot(grid[0, 3])
    for ear, name in ((0, "left"), (1, "right")):
        decay = schroeder_decay_db(rir[:, ear])
        decay_axes.plot(time, decay, label=f"{name}: T60 {t60(rir[:, ear], sample_rate):.2f} s")
    decay_axes.axhline(-5, color="grey", linestyle=":")
    decay_axes.axhline(-35, color="grey", linestyle=":")
    decay_axes.set_ylim(-70, 2)
    decay_axes.set_title("energy decay (Schroeder)")
    decay_axes.set_xlabel("time (s)")
    decay_axes.set_ylabel("dB")
    decay_axes.legend(fontsize=8)
    if os.path.isfile(layout.observations_path(scene)):
        views = read_observations(layout.observations_path(scene))
        view = views[(receiver, 0)]
        rgb_axes = figure.add_subplot(grid[1, 2])
        rgb_axes.imshow(view["rgb"])
        rgb_axes.set_title(f"RGB at node {receiver}, heading 0")
        rgb_axes.axis("off")
        depth_axes = figure.add_subplot(grid[1, 3])
        depth_axes.imshow(view["depth"][..., 0], cmap="viridis", vmin=0, vmax=1)
        depth_axes.set_title("depth (normalised)")
        depth_axes.axis("off")
        centre = xy.mean(axis=0)
        middle = nodes[int(np.argmin(np.linalg.norm(xy - centre, axis=1)))]
        plan_axes.scatter(*points[middle][:2], marker="s", s=80, color="tab:orange", zorder=4, label="views below")
        for column, heading in enumerate((0, 90, 180, 270)):
            axes = figure.add_subplot(grid[2, column])
            axes.imshow(views[(middle, heading)]["rgb"])
            axes.set_title(f"RGB at node {middle}, heading {heading}")
            axes.axis("off")
    plan_axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", required=True, help="world root (SoundSpaces layout)")
    parser.add_argument("--dataset", default="procedural")
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args(argv)
    layout = SoundSpacesLayout(args.world, args.dataset)
    os.makedirs(args.output_dir, exist_ok=True)
    for scene in layout.scenes():
        path = os.path.join(args.output_dir, f"{scene}.png")
        draw_scene(layout, scene, path)
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
