"""Neural acoustic fields: per-scene data, models, trainer "naf", evaluation, baselines, visualisation."""
