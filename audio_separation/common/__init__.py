"""Cross-cutting pieces: registry, logging, atomic checkpoints, seeding, distributed helpers."""
