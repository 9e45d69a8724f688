"""The CNN: 2-D conv blocks over [time, mel, 1], then 1-D convs over time, then statistics pooling.

Every configured representation gets its own branch (2-D convs for spectrogram images, a 1-D
conv for MFCC sequences, strided 1-D convs for the raw waveform); their pooled statistics meet
in one "embedding" layer.

The 2-D blocks learn local time-frequency patterns (formant moves, onsets); reading their
frequency axis out as channels lets the 1-D convolutions follow those patterns across a few
hundred milliseconds, roughly a syllable, which is where languages differ. Mean and standard
deviation over time (statistics pooling, as in x-vector language ID) make the output
independent of clip length, so one model serves 1 s windows and long recordings alike.

The `whisper` representation arrives pooled already (Whisper-base's encoder ran in
Transform): normalised per dimension (BatchNormalization, "whisper_norm"), its vector joins
the others before the "embedding" layer, and the model ends in logits ("logits") to which
ZeroShotPrior adds Whisper's own log-probabilities for the user's languages, times
`zero_shot_weight`, before the softmax ("probabilities").
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from contract import features
from models.whisper.languages import CODES, UnknownLanguageName, code_for


def whisper_code(name: str) -> str | None:
    """Whisper's code of a language folder name; None for a language Whisper does not know."""
    try:
        return code_for(name)
    except UnknownLanguageName:
        return None


class ZeroShotPrior(keras.layers.Layer):
    """Whisper's log-probabilities [B, 99] -> weight x their log-softmax over the user's languages
    that Whisper knows, in the user's order; languages it does not know get 0. No weights: a
    fixed input the head's logits are added to, never trained away."""

    def __init__(self, languages, weight: float = 1.0, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.languages = list(languages)
        self.weight = float(weight)
        codes = [whisper_code(name) for name in self.languages]
        self.known = [code is not None for code in codes]
        self.indices = [CODES.index(code) if code else 0 for code in codes]

    def call(self, log_probs):
        log_probs = tf.stop_gradient(tf.convert_to_tensor(log_probs, tf.float32))
        if self.weight == 0.0 or not any(self.known):
            return tf.zeros([tf.shape(log_probs)[0], len(self.languages)], tf.float32)
        known = tf.constant(self.known)
        chosen = tf.gather(log_probs, self.indices, axis=-1)
        masked = tf.where(known, chosen, tf.fill(tf.shape(chosen), float("-inf")))
        restricted = chosen - tf.reduce_logsumexp(masked, axis=-1, keepdims=True)
        return self.weight * tf.where(known, restricted, tf.zeros_like(restricted))

    def get_config(self):
        return {**super().get_config(), "languages": self.languages, "weight": self.weight}


def _stats_pooling(x):
    mean = keras.layers.GlobalAveragePooling1D()(x)
    # std over time = sqrt(E[x^2] - E[x]^2), with core ops only.
    mean_sq = keras.layers.GlobalAveragePooling1D()(keras.layers.Multiply()([x, x]))
    var = keras.layers.Subtract()([mean_sq, keras.layers.Multiply()([mean, mean])])
    std = keras.layers.Lambda(lambda v: (keras.backend.relu(v) + 1e-5) ** 0.5)(var)
    return keras.layers.Concatenate()([mean, std])


def _image_branch(x, name: str, bands: int, conv_filters, temporal_units: int, dropout: float, reg, time_pool: int):
    """2-D convs over [time, bands, 1], bands read out as channels, then dilated 1-D convs over time."""
    x = keras.layers.Reshape((-1, bands, 1), name=f"{name}_image")(x)
    if time_pool > 1:
        x = keras.layers.AveragePooling2D((time_pool, 1), padding="same", name=f"{name}_time_pool")(x)
    freq = bands
    for i, filters in enumerate(conv_filters):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg,
                                name=f"{name}_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D((2, 2), padding="same", name=f"{name}_pool{i}")(x)
        freq = -(-freq // 2)
    x = keras.layers.Reshape((-1, freq * conv_filters[-1]))(x)
    x = keras.layers.Dropout(dropout / 2)(x)
    for i, dilation in enumerate((1, 2)):
        x = keras.layers.Conv1D(temporal_units, 5 if i == 0 else 3, padding="same", dilation_rate=dilation,
                                use_bias=False, kernel_regularizer=reg, name=f"{name}_temporal{i}")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    return _stats_pooling(x)


def _sequence_branch(x, name: str, reg):
    """One 1-D conv over time on per-frame coefficient vectors (MFCC): cheap, complements the image."""
    m = keras.layers.Conv1D(64, 5, padding="same", use_bias=False, kernel_regularizer=reg, name=f"{name}_temporal")(x)
    m = keras.layers.BatchNormalization()(m)
    m = keras.layers.ReLU()(m)
    return _stats_pooling(m)


def _waveform_branch(x, name: str, reg):
    """Strided 1-D convs on raw samples: a learned filterbank (10 ms hop at 16 kHz) then context."""
    w = keras.layers.Reshape((-1, 1), name=f"{name}_samples")(x)
    for i, (filters, kernel, stride, pool) in enumerate(((32, 160, 10, 4), (64, 5, 1, 4))):
        w = keras.layers.Conv1D(filters, kernel, strides=stride, padding="same", use_bias=False,
                                kernel_regularizer=reg, name=f"{name}_conv{i}")(w)
        w = keras.layers.BatchNormalization()(w)
        w = keras.layers.ReLU()(w)
        w = keras.layers.MaxPooling1D(pool, padding="same")(w)
    return _stats_pooling(w)


def build_model(num_classes: int, input_shapes: dict, *, conv_filters, temporal_units: int, dropout: float,
                l2: float, embedding_units: int, time_pool: int, languages=None,
                zero_shot_weight: float = 1.0) -> keras.Model:
    """One branch per input, chosen by the representation's kind (contract.features.REPRESENTATIONS):
    ``input_shapes`` maps each transformed feature (``log_mel_xf``...) to its per-example shape
    ([samples] or [frames, bands]), as the Transform output's feature spec gives it. The
    branches' pooled statistics are concatenated into the "embedding" layer. The sizes come
    from ModelConfig in config/groups.py (through the Trainer's custom_config).

    `time_pool` > 1 averages that many 10 ms frames first in the image branches: phones last
    50-150 ms, and every layer after it costs that many times less.

    With the whisper features (features.WHISPER_XF and WHISPER_LANGUAGE_XF) the output is
    softmax(logits + ZeroShotPrior(languages, zero_shot_weight)); `languages` are the label
    names (folder names), needed to find Whisper's code of each."""
    if not input_shapes:
        raise ValueError("the model needs at least one input representation")
    reg = keras.regularizers.L2(l2)
    inputs, pooled = {}, []
    prior_input = None
    for name, shape in input_shapes.items():
        if name == features.WHISPER_LANGUAGE_XF:   # not a branch: the zero-shot term below
            prior_input = inputs[name] = keras.Input(shape=(int(shape[-1]),), name=name)
            continue
        representation = features.representation_of(name)   # layer names: log_mel_conv0, ...
        kind = features.REPRESENTATIONS.get(representation)
        if kind is None:
            raise ValueError(f"no model branch for feature {name!r}; known: {sorted(features.REPRESENTATIONS)}")
        if kind == "waveform":
            inputs[name] = keras.Input(shape=(None,), name=name)
            pooled.append(_waveform_branch(inputs[name], representation, reg))
            continue
        if kind == "pretrained":                  # pooled in Transform already, not normalised there
            inputs[name] = keras.Input(shape=(int(shape[-1]),), name=name)
            pooled.append(keras.layers.BatchNormalization(name=f"{representation}_norm")(inputs[name]))
            continue
        bands = int(shape[-1])
        inputs[name] = keras.Input(shape=(None, bands), name=name)
        if kind == "image":
            pooled.append(_image_branch(inputs[name], representation, bands, conv_filters, temporal_units, dropout,
                                        reg, time_pool))
        else:
            pooled.append(_sequence_branch(inputs[name], representation, reg))

    h = keras.layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    h = keras.layers.Dropout(dropout)(h)
    h = keras.layers.Dense(embedding_units, activation="relu", kernel_regularizer=reg, name="embedding")(h)
    h = keras.layers.Dropout(dropout)(h)
    if prior_input is None:
        probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(h)
        return keras.Model(inputs=inputs, outputs=probabilities, name="langid_cnn")
    if not pooled:
        raise ValueError(f"{features.WHISPER_LANGUAGE_XF} needs {features.WHISPER_XF} beside it")
    if languages is None or len(languages) != num_classes:
        raise ValueError(f"the zero-shot term needs the {num_classes} language names, got {languages}")
    logits = keras.layers.Dense(num_classes, name="logits")(h)
    prior = ZeroShotPrior(languages, zero_shot_weight, name="zero_shot_prior")(prior_input)
    combined = keras.layers.Add(name="combined_logits")([logits, prior])
    probabilities = keras.layers.Softmax(name="probabilities")(combined)
    return keras.Model(inputs=inputs, outputs=probabilities, name="langid_whisper")
