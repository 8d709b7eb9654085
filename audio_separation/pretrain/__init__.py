"""Passive pretraining of the separators: the passive dataset and trainer "passive"."""
