"""DSP and metrics as pure functions: the one STFT of the project (stft.py) and every metric
definition (metrics.py). Nothing here reads files or keeps state."""
