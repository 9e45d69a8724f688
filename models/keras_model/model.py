"""The CNN: 2-D conv blocks over [time, mel, 1], then 1-D convs over time, then statistics pooling.

The 2-D blocks learn local time-frequency patterns (formant moves, onsets); reading their
frequency axis out as channels lets the 1-D convolutions follow those patterns across a few
hundred milliseconds, roughly a syllable, which is where languages differ. Mean and standard
deviation over time (statistics pooling, as in x-vector language ID) make the output
independent of clip length, so one model serves 1 s windows and long recordings alike.
"""
from __future__ import annotations

import tf_keras as keras

from models import features


def _stats_pooling(x):
    mean = keras.layers.GlobalAveragePooling1D()(x)
    # std over time = sqrt(E[x^2] - E[x]^2), with core ops only.
    mean_sq = keras.layers.GlobalAveragePooling1D()(keras.layers.Multiply()([x, x]))
    var = keras.layers.Subtract()([mean_sq, keras.layers.Multiply()([mean, mean])])
    std = keras.layers.Lambda(lambda v: (keras.backend.relu(v) + 1e-5) ** 0.5)(var)
    return keras.layers.Concatenate()([mean, std])


def build_model(num_classes: int, num_mel_bins: int, num_mfcc: int, conv_filters=(16, 32),
                temporal_units: int = 128, dropout: float = 0.3, l2: float = 1e-4,
                embedding_units: int = 128, time_pool: int = 1) -> keras.Model:
    """`time_pool` > 1 averages that many 10 ms frames first: phones last 50-150 ms, and every
    layer after it costs that many times less."""
    reg = keras.regularizers.L2(l2)
    log_mel = keras.Input(shape=(None, num_mel_bins), name=features.LOG_MEL)
    mfcc = keras.Input(shape=(None, num_mfcc), name=features.MFCC)

    x = keras.layers.Reshape((-1, num_mel_bins, 1))(log_mel)
    if time_pool > 1:
        x = keras.layers.AveragePooling2D((time_pool, 1), padding="same", name="time_pool")(x)
    freq = num_mel_bins
    for i, filters in enumerate(conv_filters):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_regularizer=reg, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.MaxPooling2D((2, 2), padding="same", name=f"pool{i}")(x)
        freq = -(-freq // 2)
    x = keras.layers.Reshape((-1, freq * conv_filters[-1]))(x)
    x = keras.layers.Dropout(dropout / 2)(x)
    for i, dilation in enumerate((1, 2)):
        x = keras.layers.Conv1D(temporal_units, 5 if i == 0 else 3, padding="same", dilation_rate=dilation,
                                use_bias=False, kernel_regularizer=reg, name=f"temporal{i}")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    spectral = _stats_pooling(x)

    m = keras.layers.Conv1D(64, 5, padding="same", use_bias=False, kernel_regularizer=reg, name="cepstral")(mfcc)
    m = keras.layers.BatchNormalization()(m)
    m = keras.layers.ReLU()(m)
    cepstral = _stats_pooling(m)

    h = keras.layers.Concatenate()([spectral, cepstral])
    h = keras.layers.Dropout(dropout)(h)
    h = keras.layers.Dense(embedding_units, activation="relu", kernel_regularizer=reg, name="embedding")(h)
    h = keras.layers.Dropout(dropout)(h)
    probabilities = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(h)
    return keras.Model(inputs={features.LOG_MEL: log_mel, features.MFCC: mfcc}, outputs=probabilities,
                       name="langid_cnn")
