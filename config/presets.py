"""Named presets and choices: the groups' defaults and the flags' choices use them."""
from __future__ import annotations

import os

# Presets the --augmentation flag names. Pitch scaling (resampling, so formants move with the
# pitch) stands in for unseen voices, the demo's main difficulty; the rest of the second set
# (time_shift ... volume) is off (p=0) by default. A "per_language" entry overrides fields for
# one language's examples, e.g. {"per_language": {"Chinese": {"pitch_scale": {"p": 0.3}}}}.
AUGMENTATION_DEFAULT = {"pitch_scale": {"p": 0.8, "min_semitones": -4.0, "max_semitones": 4.0}}
# Every augmentation on, as bench/augmentation.py's "all" arm and the e2e "everything on" test use it.
AUGMENTATION_ALL = {
    **AUGMENTATION_DEFAULT,
    "time_shift": {"p": 0.3, "max_fraction": 0.1},
    "time_stretch": {"p": 0.3, "min_rate": 0.85, "max_rate": 1.15},
    "vtlp": {"p": 0.3, "min_alpha": 0.9, "max_alpha": 1.1},
    "random_crop": {"p": 0.2, "min_fraction": 0.6},
    "room_reverb": {"p": 0.3, "min_rt60_s": 0.2, "max_rt60_s": 0.7},
    "background_noise": {"p": 0.4, "min_snr_db": 5.0, "max_snr_db": 25.0},
    "volume": {"p": 0.2, "min_db": -10.0, "max_db": 0.0},
}

# The two model families --representations names. The default is Whisper's pretrained encoder: on
# speech the training never heard it measures best (docs/transfer.md, docs/benchmarks.md: human
# sentences 0.970 against 0.261 for the CNN). The CNN's own features (the source documents' model)
# need no weights, train on any sample rate and cost a sixth of Transform's time.
WHISPER_REPRESENTATIONS = ("whisper",)
CNN_REPRESENTATIONS = ("log_mel", "mfcc")

# How ingestion, augmentation and Transform (components/transform_executor.py) write their TFRecords
# (readers follow the files' ".gz" suffix).
# "none" by measurement: gzip costs 51 ms per float segment written and 3.9 ms per read,
# against 6.5 ms to decode that segment's MP3 (docs/kubeflow_and_scale.md), for 18 % less disk.
INTERMEDIATE_COMPRESSIONS = ("none", "gzip")
BEAM_RUNNERS = ("DirectRunner", "DataflowRunner", "FlinkRunner", "SparkRunner", "PortableRunner")
# DirectRunner defaults: one in-memory worker on a laptop (cheapest); a Kubeflow pod runs one
# worker process per core. Any --beam-arg given later on the command line wins.
LOCAL_DIRECT_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")
KUBEFLOW_DIRECT_ARGS = ("--direct_running_mode=multi_processing", "--direct_num_workers=0")

# Local-run defaults of local_runner's own flags (not part of PipelineConfig).
DEMO_CORPUS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")
LOCAL_OUTPUT_DIR = "tfx_output"
