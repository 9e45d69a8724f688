"""Transitional: serving/cli.py still reads these three names here; every pipeline default is in
pipeline/config.py. The serving clients' settings move into serving/ (issue 10, item 6), after
which this module is deleted."""
from __future__ import annotations

from pipeline.config import DataConfig, PushConfig

SAMPLE_RATE = DataConfig().sample_rate
SERVING_MODEL_NAME = PushConfig().model_name

# Serving (`python -m serving`, serving/): window length and hop come from the model itself
# (its training segment, half-overlapping); these are the client-side limits and defaults,
# each also a command-line flag.
SERVING = {
    "max_file_mb": 200.0,          # bigger files are refused before they are read
    "min_window_fraction": 0.5,    # shorter clips than this much of a window are refused (as in ingestion)
    "windows_per_call": 32,        # long recordings go to the model in chunks of this many windows
    "timeout_s": 30.0,             # per request to TF Serving
    "retries": 3,                  # further attempts after a retryable failure (UNAVAILABLE, 503, timeout)
    "backoff_s": 0.5,              # first retry delay, doubled each time, with jitter
}
