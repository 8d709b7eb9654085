from setuptools import find_packages, setup

with open("requirements.txt") as handle:
    requirements = [line.strip() for line in handle if line.strip() and not line.startswith("#")]

setup(
    name="audio_separation",
    version="0.1.0",
    description="Active audio-visual separation of dynamic sound sources, and neural acoustic fields, on CPU or GPU",
    license="MIT",
    python_requires=">=3.10",
    packages=find_packages(include=["audio_separation", "audio_separation.*"]),
    # the measured HRTF of the "kemar" binaural model (MIT KEMAR, free with citation; see its NOTICE.md)
    package_data={"audio_separation.world": ["hrtf_data/*.sofa", "hrtf_data/NOTICE.md"]},
    install_requires=requirements,
    extras_require={"test": ["pytest>=7", "fast-bss-eval>=0.1.4"]},
)
