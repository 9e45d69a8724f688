"""AudioAugmenter: copies for the train split only, reproducible, originals untouched."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from audio.augment import AugmentationConfig
from components.audio_augmenter.executor import Executor
from config import AUGMENTER_PROPERTY, AugmenterConfig, augmenter_to_property
from contract import features
from contract.codec import encode_segment, read_floats, read_split, split_files

RATE = 16000


def _input_examples(root) -> standard_artifacts.Examples:
    examples = standard_artifacts.Examples()
    examples.uri = str(root)
    examples.split_names = artifact_utils.encode_split_names(["train", "eval"])
    rng = np.random.default_rng(0)
    for split, count in (("train", 5), ("eval", 3)):
        path = os.path.join(artifact_utils.get_split_uri([examples], split), "data.tfrecord.gz")
        os.makedirs(os.path.dirname(path))
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for i in range(count):
                wave = (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * np.arange(RATE) / RATE)
                        + 0.01 * rng.standard_normal(RATE)).astype(np.float32)
                writer.write(encode_segment(wave, label=0, language="English", speaker_id=f"spk{i}",
                                            source_key=f"English/{split}{i}.mp3", segment_index=0))
    return examples


def _waves(examples, split):
    out = [(e.features.feature[features.SOURCE_KEY].bytes_list.value[0].decode(),
            read_floats(e.features.feature[features.WAVEFORM])) for e in read_split(examples.uri, split)]
    return sorted(out, key=lambda kv: (kv[0], kv[1].tobytes()))


@pytest.fixture()
def source(tmp_path):
    return _input_examples(tmp_path / "in")


def _augment(source, tmp_path, name, copies=2, seed=11, compression="none"):
    target = standard_artifacts.Examples()
    target.uri = str(tmp_path / name)
    augmenter = AugmenterConfig(copies=copies, seed=seed, policy=AugmentationConfig().to_dict())
    props = {AUGMENTER_PROPERTY: augmenter_to_property(augmenter), "sample_rate": RATE, "compression": compression,
             "splits": json.dumps(["train"])}
    Executor().Do({"examples": [source]}, {"augmented_examples": [target]}, props)
    return target


def test_output_compression_follows_the_setting_and_content_does_not(source, tmp_path):
    """Gzipped input in; "none" writes plain TFRecords, "gzip" gzipped ones, with the same records."""
    plain, gzipped = _augment(source, tmp_path, "plain"), _augment(source, tmp_path, "gz", compression="gzip")
    for split in ("train", "eval"):
        plain_files, gz_files = split_files(plain.uri, split), split_files(gzipped.uri, split)
        assert plain_files and gz_files
        assert not any(f.endswith(".gz") for f in plain_files) and all(f.endswith(".gz") for f in gz_files)
        raw = [r.numpy() for r in tf.data.TFRecordDataset(plain_files)]  # readable with no decompression
        assert sorted(raw) == sorted(r.numpy() for r in tf.data.TFRecordDataset(gz_files, compression_type="GZIP"))
        assert _waves(plain, split) and all(
            a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(_waves(plain, split), _waves(gzipped, split)))


def test_train_gets_copies_eval_passes_through(source, tmp_path):
    target = _augment(source, tmp_path, "out")
    assert artifact_utils.decode_split_names(target.split_names) == ["train", "eval"]
    train_in, train_out = _waves(source, "train"), _waves(target, "train")
    assert len(train_out) == 3 * len(train_in)
    for key, original in train_in:
        group = [w for k, w in train_out if k == key]
        assert len(group) == 3
        assert sum(np.array_equal(w, original) for w in group) == 1       # the original, unchanged
        assert all(w.shape == original.shape and np.all(np.isfinite(w)) for w in group)
    # Every copy carries its original's other features (label, language, speaker, statistics) unchanged.
    def others(example):
        copy = tf.train.Example()
        copy.CopyFrom(example)
        del copy.features.feature[features.WAVEFORM]
        return copy
    originals = {e.features.feature[features.SOURCE_KEY].bytes_list.value[0]: others(e)
                 for e in read_split(source.uri, "train")}
    copies = list(read_split(target.uri, "train"))
    assert copies and all(others(e) == originals[e.features.feature[features.SOURCE_KEY].bytes_list.value[0]]
                          for e in copies)
    eval_in, eval_out = _waves(source, "eval"), _waves(target, "eval")
    assert len(eval_in) == len(eval_out)
    assert all(k1 == k2 and np.array_equal(a, b) for (k1, a), (k2, b) in zip(eval_in, eval_out))


def test_same_seed_same_copies_other_seed_other_copies(source, tmp_path):
    first = _augment(source, tmp_path, "a", seed=11)
    again = _augment(source, tmp_path, "b", seed=11)
    other = _augment(source, tmp_path, "c", seed=12)
    same = [np.array_equal(x[1], y[1]) for x, y in zip(_waves(first, "train"), _waves(again, "train"))]
    assert all(same)
    differs = [not np.array_equal(x[1], y[1]) for x, y in zip(_waves(first, "train"), _waves(other, "train"))]
    assert any(differs)


def test_per_language_policy_is_chosen_by_the_examples_language(source, tmp_path):
    """Every augmentation off by default; polarity inversion on for one language only."""
    off = {name: {"p": 0.0} for name in AugmentationConfig().to_dict()}

    def run(language, name):
        target = standard_artifacts.Examples()
        target.uri = str(tmp_path / name)
        policy = {**off, "per_language": {language: {"polarity_inversion": {"p": 1.0}}}}
        props = {AUGMENTER_PROPERTY: augmenter_to_property(AugmenterConfig(copies=1, seed=3, policy=policy)),
                 "sample_rate": RATE, "splits": json.dumps(["train"]), "compression": "gzip"}
        Executor().Do({"examples": [source]}, {"augmented_examples": [target]}, props)
        return _waves(target, "train")

    originals = dict(_waves(source, "train"))
    english = run("English", "english")              # the fixture's examples are all English
    assert sum(np.array_equal(w, -originals[k]) for k, w in english) == len(originals)
    french = run("French", "french")
    assert all(np.array_equal(w, originals[k]) for k, w in french)
