"""The active audio-visual separation environment: graph navigation, dynamic sources, binaural mixing,
sensors, and gymnasium (vector) env construction.

    from audio_separation.env import EnvSettings, make_env, make_vector_env
    envs = make_vector_env(EnvSettings.from_config(config))
"""

from audio_separation.env.settings import EnvSettings
from audio_separation.env.vector import make_env, make_vector_env

__all__ = ["EnvSettings", "make_env", "make_vector_env"]
