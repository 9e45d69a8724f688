"""Running the ingestion executor directly on a bucket, and reading back what it wrote."""
from __future__ import annotations

from tfx.types import standard_artifacts

from components.s3_audio_example_gen.component import exec_properties
from components.s3_audio_example_gen.executor import Executor
from config import DataConfig
from contract import features
from contract.codec import read_floats, read_split

LANGUAGES = ["English", "French", "German"]
RATE = 16000


def _data(bucket, **overrides) -> DataConfig:
    # 3 bad of 39 in the shared bucket; fault tests lower the retry budget.
    settings = dict(bucket=bucket, prefix="clips/", languages=LANGUAGES, sample_rate=RATE, segment_seconds=1.0,
                    eval_fraction=0.25, split_seed=3, max_skipped_fraction=0.2, fetch_retry_seconds=20.0)
    return DataConfig(**{**settings, **overrides})


def _props(bucket, **overrides):
    """The executor's properties, as the component writes them (DataConfig fields as overrides)."""
    return exec_properties(_data(bucket, **overrides), compression="none")


def _run(tmp_path, props):
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "S3AudioExampleGen" / "examples" / "1")  # TFX layout
    Executor().Do({}, {"examples": [examples]}, props)
    return examples


def _records(examples, split):
    out = []
    for example in read_split(examples.uri, split):
        f = example.features.feature
        out.append({
            "waveform": read_floats(f[features.WAVEFORM]),
            "label": f[features.LABEL].int64_list.value[0],
            "language": f[features.LANGUAGE].bytes_list.value[0].decode(),
            "speaker": f[features.SPEAKER_ID].bytes_list.value[0].decode(),
            "key": f[features.SOURCE_KEY].bytes_list.value[0].decode(),
            "index": f[features.SEGMENT_INDEX].int64_list.value[0],
            "duration_s": f[features.DURATION_S].float_list.value[0],
        })
    return out
