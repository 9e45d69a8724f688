"""Serving signatures of the exported SavedModel; they all apply the tf.Transform graph.

- serving_default: serialized tf.Examples holding a raw `waveform` (what TFMA and TF
  Serving's classify-style callers send); returns `probabilities` and `language`.
- predict_waveform: float32 [batch, samples] at the pipeline's sample rate, any length.
- predict_wav: WAV file bytes [batch] (16-bit PCM, any rate and channel count), decoded with
  tf.audio.decode_wav, averaged to mono and resampled in the graph.
- embed: like predict_waveform, plus the penultimate ("embedding") layer's output.

The last three share one windowing core, which applies contract/geometry.py's serving grid
and pooling rule (serving/tflite_model.py converts this core as it is): training-length
windows every half window (the ingestion hop), the last one zero-padded; each window's
outputs are averaged weighted by how much real audio it holds. Besides the pooled
`probabilities` and `language` they return per-window outputs (`window_probabilities`,
`window_start_s`, `window_end_s`, `window_weight`) for timelines, `languages` (the names of
the probability columns) and the window geometry (`window_seconds`, `hop_seconds`,
`sample_rate` of the waveform inputs), so a
client of a remote server needs nothing but the model. A model on the `whisper`
representation also returns Whisper's own distribution over its 99 languages,
`window_whisper_language_probabilities` [batch, windows, 99] and its pooled
`whisper_language_probabilities` [batch, 99], with the codes in `whisper_languages`
(`serving_default` gives the last two per example); its `embed`
also returns Whisper's pooled encoder features (`whisper_embedding`, `window_whisper_embeddings`),
which the open-set rule reads (models/open_set_whisper.py). Every output has the batch as its
first axis, so TF Serving's REST row format ("instances") works too.

Speech: each window gets a speech/no-speech decision (audio/speech.py's definition, computed
with tf.signal on the window's real audio; `window_speech`). Windows without speech take no
part in the pooled answer; a recording without any answers `language` "no_speech" with all-zero
`probabilities` (serving_default, which TFMA evaluates, keeps the model's probabilities and
says "no_speech" in `language` only). Empty and too-short inputs therefore answer "no_speech"; non-finite samples,
bytes that are not a WAV file, implausible WAV sample rates and batches of more than
MAX_WINDOWS_PER_CALL windows are refused with InvalidArgumentError before any heavy op runs.

Only core TensorFlow ops (tf.signal, tf.audio.decode_wav): stock TF Serving loads it.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from audio import speech
from contract import features
from contract.geometry import (
    WindowGeometry,
    tf_pooling_weights,
    tf_real_samples,
    tf_serving_window_count,
    tf_weighted_pool,
    tf_window_weight,
)
from models.preprocessing import dense_waveform, raw_waveform
from models.whisper.languages import CODES as WHISPER_CODES

EMBEDDING_LAYER = "embedding"
NO_SPEECH = "no_speech"
# One call may cut at most this many windows (batch x windows per row): about 25 minutes of
# audio in 3 s windows, some hundreds of MB of features. More is refused instead of aborting
# the server with std::bad_alloc; clients send long recordings in chunks.
MAX_WINDOWS_PER_CALL = 1024
MIN_WAV_RATE, MAX_WAV_RATE = 8000, 192000


def _outputs(probabilities: tf.Tensor, languages: tf.Tensor, has_speech: tf.Tensor, zero_without_speech: bool) -> dict:
    named = tf.gather(languages, tf.argmax(probabilities, axis=-1))
    if zero_without_speech:
        probabilities = probabilities * tf.cast(has_speech, tf.float32)[:, None]
    return {"probabilities": probabilities, "language": tf.where(has_speech, named, tf.constant(NO_SPEECH))}


def speech_flags(windows: tf.Tensor, real: tf.Tensor, sample_rate: int) -> tf.Tensor:
    """[windows, samples] and each window's real length -> bool [windows]: audio/speech.py's
    window_has_speech, over whole 20 ms frames of real audio, in core ops."""
    size = speech.frame_samples(sample_rate)
    frames = tf.signal.frame(windows, size, size)                          # [w, f, size]
    ends = (tf.range(tf.shape(frames)[1]) + 1) * size
    eps = 1e-10
    levels = 10.0 * tf.math.log(tf.reduce_mean(tf.square(frames), axis=-1) + eps) / tf.math.log(10.0)
    active = tf.logical_and(ends[None, :] <= tf.cast(real, tf.int32)[:, None], levels >= speech.ACTIVE_FLOOR_DB)
    weight = tf.cast(active, tf.float32)
    count = tf.reduce_sum(weight, axis=1)
    norm = tf.maximum(count, 1.0)
    mean = tf.reduce_sum(levels * weight, axis=1) / norm
    spread = tf.sqrt(tf.reduce_sum(tf.square(levels - mean[:, None]) * weight, axis=1) / norm)
    power = tf.square(tf.abs(tf.signal.rfft(frames * tf.signal.hann_window(size), [speech.FFT_LENGTH])))
    spectrum = tf.reduce_sum(power * weight[:, :, None], axis=1)[:, 1:-1] / norm[:, None] + eps
    flatness = tf.exp(tf.reduce_mean(tf.math.log(spectrum), axis=1)) / tf.reduce_mean(spectrum, axis=1)
    return tf.logical_and(tf.logical_and(count * size >= speech.MIN_ACTIVE_SECONDS * sample_rate,
                                         spread >= speech.MIN_MODULATION_DB), flatness < speech.MAX_FLATNESS)


def resample(signal: tf.Tensor, rate_in: tf.Tensor, rate_out: int) -> tf.Tensor:
    """Band-limited resampling of a 1-D signal by FFT (keep or zero-pad the spectrum up to the
    new Nyquist frequency): any rate ratio, anti-aliased, core ops only. The signal is treated
    as periodic, which rings for a few milliseconds at its two ends; that is far below what a
    25 ms analysis frame of a 1.5-3 s window notices."""
    n_in = tf.shape(signal)[0]
    rate_in = tf.cast(rate_in, tf.float64)
    n_out = tf.cast(tf.round(tf.cast(n_in, tf.float64) * rate_out / rate_in), tf.int32)

    def by_fft():
        spectrum = tf.signal.rfft(signal, fft_length=tf.reshape(n_in, [1]))
        bins = n_out // 2 + 1
        spectrum = tf.pad(spectrum[:bins], [[0, tf.maximum(bins - tf.shape(spectrum)[0], 0)]])
        out = tf.signal.irfft(spectrum, fft_length=tf.reshape(n_out, [1]))
        return out * (tf.cast(n_out, tf.float32) / tf.cast(n_in, tf.float32))

    same = tf.logical_or(tf.equal(rate_in, float(rate_out)), tf.logical_or(n_in < 2, n_out < 2))
    return tf.cond(same, lambda: signal, by_fft)


def calibrate(probabilities: tf.Tensor, temperature: tf.Tensor) -> tf.Tensor:
    """Temperature scaling of softmax outputs: softmax(log p / T) (models/calibration.py)."""
    return tf.nn.softmax(tf.math.log(tf.maximum(probabilities, 1e-12)) / temperature, axis=-1)


def whisper_distribution(transformed: dict) -> tf.Tensor:
    """Whisper's own distribution over its 99 languages, from its logits among the transformed
    features: what the signatures answer and what the open-set rule is fitted on."""
    return tf.nn.softmax(transformed[features.WHISPER_LANGUAGE_XF], axis=-1)


def make_signatures(model, tf_transform_output, languages: list[str], segment_samples: int,
                    sample_rate: int = 16000, temperature: float = 1.0) -> dict:
    """`temperature` (fitted on held-out data by the Trainer) is applied to every window's
    probabilities before pooling, so every signature answers calibrated probabilities."""
    model.tft_layer = tf_transform_output.transform_features_layer()
    model.calibration_temperature = tf.Variable(float(temperature), trainable=False, name="calibration_temperature")
    names = tf.constant(languages, dtype=tf.string)
    raw_spec = tf_transform_output.raw_feature_spec()
    for key in features.METADATA_KEYS:
        raw_spec.pop(key, None)
    waveform_spec = raw_spec[features.WAVEFORM]   # RaggedFeature; VarLenFeature in graphs made before it
    # The same layers (and variables) as `model`, read out at the embedding layer too.
    heads = keras.Model(model.input, {"probabilities": model.output,
                                      "embedding": model.get_layer(EMBEDDING_LAYER).output})

    def transform(raw_features):
        transformed = model.tft_layer(raw_features)
        return {k: transformed[k] for k in model.input_names}

    zero_shot = features.WHISPER_LANGUAGE_XF in model.input_names
    whisper_codes = tf.constant(WHISPER_CODES, dtype=tf.string)

    def whisper_code_rows(batch) -> tf.Tensor:
        """Whisper's 99 language codes, one row per example (the columns of its distribution)."""
        return tf.tile(whisper_codes[None, :], [batch, 1])

    def classify(raw_features) -> tuple[tf.Tensor, dict]:
        """Calibrated probabilities, and the transformed features they came from."""
        inputs = transform(raw_features)
        return calibrate(model(inputs, training=False), model.calibration_temperature), inputs

    geometry = WindowGeometry.from_samples(sample_rate, segment_samples)
    n, hop = geometry.window_samples, geometry.hop_samples

    def analyse(waveform: tf.Tensor, lengths: tf.Tensor) -> dict:
        """[batch, samples] with each row's real length -> pooled and per-window outputs."""
        total = tf.shape(waveform)[1]
        count = tf_serving_window_count(total, n, hop)                   # windows cover the longest row
        too_many = tf.debugging.assert_less_equal(
            tf.shape(waveform)[0] * count, MAX_WINDOWS_PER_CALL,
            message=f"too many windows in one call (batch x windows > {MAX_WINDOWS_PER_CALL}); "
                    "send fewer or shorter recordings per request")
        finite = tf.debugging.assert_all_finite(waveform, "waveform has NaN or infinite samples")
        with tf.control_dependencies([too_many, finite]):
            padded = tf.pad(waveform, [[0, 0], [0, (count - 1) * hop + n - total]])
        windows = tf.signal.frame(padded, n, hop)                           # [batch, count, n]
        batch = tf.shape(windows)[0]
        starts = tf.range(count) * hop
        real = tf_real_samples(lengths, starts, n)
        flat = tf.reshape(windows, [-1, n])
        voiced = tf.reshape(speech_flags(flat, tf.reshape(real, [-1]), sample_rate), [batch, count])
        weights = tf_pooling_weights(real, n, voiced)                        # [batch, count]
        inputs = transform({features.WAVEFORM: raw_waveform(flat, waveform_spec)})
        out = heads(inputs, training=False)
        out["probabilities"] = calibrate(out["probabilities"], model.calibration_temperature)
        if zero_shot:   # Whisper's own answer over its 99 languages, uncalibrated, and its encoder features
            out["whisper_language_probabilities"] = whisper_distribution(inputs)
            out["whisper_embedding"] = inputs[features.WHISPER_XF]
        per_window = {k: tf.reshape(v, [batch, count, -1]) for k, v in out.items()}
        pooled = {k: tf_weighted_pool(v, weights) for k, v in per_window.items()}
        ones = tf.ones([batch], tf.float32)
        result = _outputs(pooled["probabilities"], names, tf.reduce_any(voiced, axis=1), zero_without_speech=True)
        result.update({
            "languages": tf.tile(names[None, :], [batch, 1]),
            "window_probabilities": per_window["probabilities"],
            "window_weight": tf_window_weight(real, n),
            "window_speech": tf.cast(voiced, tf.float32),
            "window_start_s": tf.tile(tf.cast(starts, tf.float32)[None, :], [batch, 1]) / sample_rate,
            "window_end_s": tf.cast(starts[None, :] + real, tf.float32) / sample_rate,
            "sample_rate": tf.fill([batch], sample_rate),
            "window_seconds": ones * geometry.window_seconds,
            "hop_seconds": ones * geometry.hop_seconds,
            "duration_s": tf.cast(lengths, tf.float32) / sample_rate,
            "embedding": pooled["embedding"],
            "window_embeddings": per_window["embedding"],
        })
        if zero_shot:
            result.update({"whisper_language_probabilities": pooled["whisper_language_probabilities"],
                           "window_whisper_language_probabilities": per_window["whisper_language_probabilities"],
                           "whisper_languages": whisper_code_rows(batch),
                           "whisper_embedding": pooled["whisper_embedding"],
                           "window_whisper_embeddings": per_window["whisper_embedding"]})
        return result

    def full_lengths(waveform):
        return tf.fill([tf.shape(waveform)[0]], tf.shape(waveform)[1])

    def without_embeddings(result: dict) -> dict:
        return {k: v for k, v in result.items()
                if k not in ("embedding", "window_embeddings", "whisper_embedding", "window_whisper_embeddings")}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        raw = tf.io.parse_example(serialized, raw_spec)
        waveform = raw[features.WAVEFORM]
        if isinstance(waveform, tf.RaggedTensor):
            lengths = waveform.row_lengths()
        elif isinstance(waveform, tf.SparseTensor):
            rows = tf.shape(serialized)[0]
            lengths = tf.math.bincount(tf.cast(waveform.indices[:, 0], tf.int32), minlength=rows, maxlength=rows)
        else:
            lengths = tf.fill([tf.shape(waveform)[0]], tf.shape(waveform)[1])
        dense = dense_waveform(waveform)
        finite = tf.debugging.assert_all_finite(dense, "waveform has NaN or infinite samples")
        with tf.control_dependencies([finite]):
            dense = tf.pad(dense, [[0, 0], [0, tf.maximum(n - tf.shape(dense)[1], 0)]])
        voiced = speech_flags(dense, lengths, sample_rate)
        # TFMA reads these probabilities to evaluate every segment, speech or not: only `language` says no_speech
        probabilities, inputs = classify(raw)
        result = _outputs(probabilities, names, voiced, zero_without_speech=False)
        if zero_shot:   # Whisper's own answer per example, as the waveform signatures give it
            result["whisper_language_probabilities"] = whisper_distribution(inputs)
            result["whisper_languages"] = whisper_code_rows(tf.shape(serialized)[0])
        return result

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")])
    def predict_waveform(waveform):
        return without_embeddings(analyse(waveform, full_lengths(waveform)))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="audio")])
    def predict_wav(audio):
        def decode(contents):
            head = tf.strings.join([tf.strings.substr(contents, 0, 12), b"\0" * 12])
            is_wav = tf.logical_and(tf.equal(tf.strings.substr(head, 0, 4), b"RIFF"),
                                    tf.equal(tf.strings.substr(head, 8, 4), b"WAVE"))
            check = tf.debugging.Assert(is_wav, ["predict_wav: input is not a WAV file (RIFF/WAVE header missing)"])
            with tf.control_dependencies([check]):
                decoded, rate = tf.audio.decode_wav(contents)               # [samples, channels]
            plausible = tf.debugging.Assert(
                tf.logical_and(rate >= MIN_WAV_RATE, rate <= MAX_WAV_RATE),
                [f"predict_wav: WAV sample rate outside {MIN_WAV_RATE}-{MAX_WAV_RATE} Hz:", rate])
            with tf.control_dependencies([plausible]):
                return resample(tf.reduce_mean(decoded, axis=1), rate, sample_rate)

        ragged = tf.map_fn(decode, audio, fn_output_signature=tf.RaggedTensorSpec([None], tf.float32))
        return without_embeddings(analyse(ragged.to_tensor(), ragged.row_lengths()))

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float32, name="waveform")])
    def embed(waveform):
        return analyse(waveform, full_lengths(waveform))

    return {"serving_default": serve_examples, "predict_waveform": predict_waveform,
            "predict_wav": predict_wav, "embed": embed}
