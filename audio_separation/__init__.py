"""Active audio-visual separation of dynamic sound sources, and neural acoustic fields."""

__version__ = "0.1.0"
