"""TFX component definition of the train-split audio augmentation."""
from __future__ import annotations

import json
from collections.abc import Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.audio_augmenter import executor
from config import AUGMENTER_PROPERTY, AugmenterConfig, augmenter_to_property


class AudioAugmenterSpec(types.ComponentSpec):
    PARAMETERS = {
        # The AugmenterConfig (config/wire.py's versioned JSON): copies, seed, policy.
        AUGMENTER_PROPERTY: ExecutionParameter(type=str),
        "sample_rate": ExecutionParameter(type=int),
        "splits": ExecutionParameter(type=str),   # JSON list of splits to augment
        "compression": ExecutionParameter(type=str),  # of the output TFRecords: "none" or "gzip"
        # Digest of the executor's code: a code change invalidates the cache.
        "code_version": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}
    OUTPUTS = {"augmented_examples": ChannelParameter(type=standard_artifacts.Examples)}


class AudioAugmenter(base_beam_component.BaseBeamComponent):
    """Runs before Transform so augmented copies get the same features as real clips.

    Each copy draws its randomness from (seed, source key, segment index, copy index), so the
    output is the same whatever the runner, worker count or processing order.
    """

    SPEC_CLASS = AudioAugmenterSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, examples: types.BaseChannel, *, augmenter: AugmenterConfig, sample_rate: int,
                 compression: str, splits: Sequence[str] = ("train",), code_version: str = ""):
        """Settings from config (AugmenterConfig, DataConfig.sample_rate, RuntimeConfig's compression)."""
        if augmenter.copies < 1:
            raise ValueError("copies must be >= 1; leave the component out of the pipeline for 0")
        spec = AudioAugmenterSpec(
            examples=examples,
            sample_rate=sample_rate,
            splits=json.dumps(list(splits)),
            compression=compression,
            code_version=code_version,
            augmented_examples=types.Channel(type=standard_artifacts.Examples),
            **{AUGMENTER_PROPERTY: augmenter_to_property(augmenter)},
        )
        super().__init__(spec=spec)
