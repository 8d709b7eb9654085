"""Moved to audio_separation/common/preemption.py (every trainer uses it); kept for existing imports."""

from audio_separation.common.preemption import (  # noqa: F401
    PREEMPTION_SIGNALS,
    RESUME_STATE_NAME,
    PreemptionFlag,
    signals_blocked,
)
