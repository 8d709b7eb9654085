"""The active audio-visual separation environment: graph navigation, dynamic sources, binaural mixing,
sensors, and gymnasium (vector) env construction.

    from audio_separation.env import make_env, make_vector_env
"""

from audio_separation.env.vector import make_env, make_vector_env

__all__ = ["make_env", "make_vector_env"]
