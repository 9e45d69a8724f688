"""tf.Transform preprocessing: waveform segment -> the configured representations, normalised.

Representations (``FeatureConfig.representations``, config/groups.py), all core
TensorFlow ops (tf.signal), so the transform graph that serving inherits loads in stock TF
Serving:

- ``waveform``: the segment itself, scaled to unit RMS per utterance;
- ``stft_magnitude``: linear |STFT| [frames, fft_length // 2 + 1], scaled by the utterance's
  mean magnitude (gain invariance without a log);
- ``power_spectrogram``: log |STFT|^2 [frames, fft_length // 2 + 1];
- ``log_mel``: log mel-filterbank energies [frames, num_mel_bins] over [lower_hz, upper_hz];
- ``mfcc``: the first num_mfcc DCT-II coefficients of the log-mel, plus ``mfcc_deltas``
  (0, 1 or 2) orders of regression deltas appended along the coefficient axis;
- ``whisper``: one pass of Whisper-base's encoder per window (models/whisper, weights from
  ``encoder_weights``), giving ``whisper_xf`` (states pooled over time, ``whisper_pooling``:
  [1024] or [512]) and ``whisper_language_xf`` (Whisper's log-probabilities over its 99
  languages), both as the encoder gives them: 4,492 or 2,444 bytes a window.

Log-domain representations get the per-utterance mean removed (``utterance_norm``); every
2-D representation is then z-scored per band with full-pass analyzers over the train split.
Outputs are named ``contract.features.transformed_name(representation)`` (``log_mel_xf``...).
Every setting comes from Transform's custom_config, decoded into FeatureConfig and DataConfig
(config/wire.py); none has a default here.
"""
from __future__ import annotations

import dataclasses
import functools

import tensorflow as tf
import tensorflow_transform as tft

from config import DataConfig, FeatureConfig, transform_settings
from contract import features
from storage import tfrecord_crc  # noqa: F401  (Transform's TFRecords in this process: hardware CRC32C)

_EPSILON = 1e-6
_AUDIBLE_RATIO = 1e-5  # -50 dB
DELTA_WIDTH = 2        # frames each side in the delta regression (HTK's default)


def segment_samples(data: DataConfig) -> int:
    """Samples per model window (contract/geometry.py's rounding)."""
    return data.geometry.window_samples


def dense_waveform(waveform) -> tf.Tensor:
    """The raw `waveform` feature as a dense [batch, samples] tensor, whatever its representation.

    The schema leaves the length free; its tensor representation (contract/schema.pbtxt) makes
    TFXIO hand a RaggedTensor, cheaper to decode than the default SparseTensor (issue 11). A
    Transform graph made with a schema without it takes a SparseTensor, handled the same way.
    When every row is full (all segments the same length: always, from ingestion and
    augmentation) the values in row-major order *are* the dense matrix, and a reshape replaces
    the scatter of tf.sparse.to_dense / RaggedTensor.to_tensor (sparse: measured 1.4 vs 0.26 ms
    per segment, docs/kubeflow_and_scale.md). Rows of different lengths take the general path
    and are zero-padded as before.
    """
    if isinstance(waveform, tf.RaggedTensor):
        values = waveform.flat_values
        rows = tf.cast(waveform.nrows(), tf.int32)
        width = tf.cast(waveform.bounding_shape(axis=1), tf.int32)
        general = waveform.to_tensor
    elif isinstance(waveform, tf.SparseTensor):
        values = waveform.values
        rows = tf.cast(waveform.dense_shape[0], tf.int32)
        width = tf.cast(waveform.dense_shape[1], tf.int32)
        general = functools.partial(tf.sparse.to_dense, waveform)
    else:
        return waveform
    full = tf.equal(tf.size(values), rows * width)
    return tf.cond(full, lambda: tf.reshape(values, [rows, width]), general)


def raw_waveform(dense: tf.Tensor, waveform_spec=None):
    """A dense [batch, samples] batch in the form a Transform graph takes its raw `waveform` in:
    a RaggedTensor (tf.io.RaggedFeature, contract/schema.pbtxt), or a SparseTensor where the
    graph's raw spec says tf.io.VarLenFeature (a graph made before the schema's tensor
    representation, e.g. from an ImportSchemaGen output that the pipeline cache reused)."""
    if isinstance(waveform_spec, tf.io.VarLenFeature):
        return tf.sparse.from_dense(dense)
    return tf.RaggedTensor.from_tensor(dense)


def fixed_length(waveform: tf.Tensor, length: int) -> tf.Tensor:
    """Crop or zero-pad a [batch, samples] waveform to exactly `length` samples."""
    waveform = waveform[:, :length]
    waveform = tf.pad(waveform, [[0, 0], [0, length - tf.shape(waveform)[1]]])
    return tf.reshape(waveform, [-1, length])


def deltas(x: tf.Tensor, width: int = DELTA_WIDTH) -> tf.Tensor:
    """Regression deltas along time of [batch, frames, coefficients], edge frames repeated:
    d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2)."""
    frames = tf.shape(x)[1]
    padded = tf.concat([tf.repeat(x[:, :1], width, axis=1), x, tf.repeat(x[:, -1:], width, axis=1)], axis=1)
    total = sum(n * (padded[:, width + n: width + n + frames] - padded[:, width - n: width - n + frames])
                for n in range(1, width + 1))
    return tf.ensure_shape(total / (2.0 * sum(n * n for n in range(1, width + 1))), x.shape)


def representations(waveform: tf.Tensor, config: FeatureConfig, sample_rate: int) -> dict[str, tf.Tensor]:
    """[batch, samples] at `sample_rate` -> {name: per-example features} for every selected
    representation (FeatureConfig has checked the names).

    Per-utterance normalisation is applied here; the per-band (train split) z-score is not.
    """
    names = [name for name in config.representations if name != features.WHISPER]  # whisper_features()
    if not names:
        return {}
    rate = sample_rate
    frame = int(round(rate * config.frame_ms / 1000))
    hop = int(round(rate * config.hop_ms / 1000))
    fft_length = config.fft_length
    utterance_norm = config.utterance_norm
    out: dict[str, tf.Tensor] = {}
    if features.WAVEFORM_REP in names:
        rms = tf.sqrt(tf.reduce_mean(tf.square(waveform), axis=1, keepdims=True))
        out[features.WAVEFORM_REP] = waveform / (rms + 1e-4)
    if names == [features.WAVEFORM_REP]:
        return out

    magnitude = tf.math.abs(tf.signal.stft(waveform, frame_length=frame, frame_step=hop, fft_length=fft_length,
                                           window_fn=tf.signal.hann_window))
    power = tf.math.square(magnitude)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=config.num_mel_bins, num_spectrogram_bins=fft_length // 2 + 1,
        sample_rate=rate, lower_edge_hertz=float(config.lower_hz), upper_edge_hertz=float(config.upper_hz))
    mel = tf.tensordot(power, mel_matrix, axes=1)
    mel.set_shape(power.shape[:-1].concatenate(mel_matrix.shape[-1:]))
    # Frames more than 50 dB below the loudest (the zero padding of a clip's last window,
    # digital silence) are left out of the utterance's mean and set to it, so padding does
    # not shift the features of the audio it pads.
    energy = tf.reduce_sum(mel, axis=-1, keepdims=True)
    audible = tf.cast(energy > _AUDIBLE_RATIO * tf.reduce_max(energy, axis=1, keepdims=True), tf.float32)
    count = tf.maximum(tf.reduce_sum(audible, axis=1, keepdims=True), 1.0)

    def centred(x):
        if not utterance_norm:
            return x
        return (x - tf.reduce_sum(x * audible, axis=1, keepdims=True) / count) * audible

    log_mel = tf.math.log(mel + _EPSILON)
    if features.STFT_MAGNITUDE in names:
        scale = tf.reduce_mean(magnitude, axis=[1, 2], keepdims=True) if utterance_norm else 1.0
        out[features.STFT_MAGNITUDE] = magnitude / (scale + _EPSILON)
    if features.POWER_SPECTROGRAM in names:
        out[features.POWER_SPECTROGRAM] = centred(tf.math.log(power + _EPSILON))
    if features.LOG_MEL in names:
        out[features.LOG_MEL] = centred(log_mel)
    if features.MFCC in names:
        mfcc = centred(tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : config.num_mfcc])
        stack = [mfcc]
        for _ in range(config.mfcc_deltas):
            stack.append(deltas(stack[-1]))
        out[features.MFCC] = tf.concat(stack, axis=-1) if len(stack) > 1 else mfcc
    return {name: out[name] for name in names}


def whisper_features(waveform: tf.Tensor, config: FeatureConfig) -> dict[str, tf.Tensor]:
    """[batch, samples] at 16 kHz -> {WHISPER_XF: pooled states, WHISPER_LANGUAGE_XF: log-probabilities [99]},
    one encoder pass (the weights become constants of the Transform graph, so serving carries them)."""
    from models.whisper.embedding import WindowFeatures

    pooled, log_probs = WindowFeatures(config.encoder_weights or None, config.whisper_pooling)(waveform)
    return {features.WHISPER_XF: pooled, features.WHISPER_LANGUAGE_XF: log_probs}


def spectral_features(waveform: tf.Tensor, config: FeatureConfig, sample_rate: int) -> tuple[tf.Tensor, tf.Tensor]:
    """[batch, samples] -> (log-mel [batch, frames, mels], MFCC [batch, frames, coefficients])."""
    both = dataclasses.replace(config, representations=(features.LOG_MEL, features.MFCC))
    out = representations(waveform, both, sample_rate)
    return out[features.LOG_MEL], out[features.MFCC]


def _normalise_per_band(x: tf.Tensor) -> tf.Tensor:
    """z-score each band (last axis) with mean and variance over all train frames."""
    bands = x.shape[-1]
    flat = tf.reshape(x, [-1, bands])
    mean = tft.mean(flat, reduce_instance_dims=False)
    var = tft.var(flat, reduce_instance_dims=False)
    return (x - mean) * tf.math.rsqrt(var + _EPSILON)


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """tf.Transform entry point (Transform component, `preprocessing_fn` path); `custom_config`
    is config/wire.py's Transform custom_config."""
    settings = transform_settings(custom_config)
    waveform = dense_waveform(inputs[features.WAVEFORM])
    waveform = fixed_length(tf.cast(waveform, tf.float32), segment_samples(settings.data))
    outputs = {}
    for name, value in representations(waveform, settings.features, settings.data.sample_rate).items():
        # The waveform is already scale-free per utterance; a per-sample z-score would be noise.
        normalised = value if features.REPRESENTATIONS[name] == "waveform" else _normalise_per_band(value)
        outputs[features.transformed_name(name)] = normalised
    if settings.features.uses_whisper:
        whisper = whisper_features(waveform, settings.features)
        # Both left as the encoder gives them (the model normalises the pooled states): no
        # analyzer reads them, so tf.Transform's analysis pass never runs the encoder, and the
        # train split goes through it once instead of twice.
        outputs.update(whisper)
    if features.LABEL in inputs:
        outputs[features.LABEL_XF] = tf.reshape(inputs[features.LABEL], [-1, 1])
    if features.SPEAKER_ID in inputs:   # folds of held-out speakers: calibrate on one, measure on the other
        speaker = tf.reshape(tf.sparse.to_dense(inputs[features.SPEAKER_ID]) if isinstance(
            inputs[features.SPEAKER_ID], tf.SparseTensor) else inputs[features.SPEAKER_ID], [-1])
        outputs[features.SPEAKER_BUCKET] = tf.reshape(tf.strings.to_hash_bucket_fast(speaker, 1 << 20), [-1, 1])
    return outputs
