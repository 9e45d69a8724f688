"""Names of the tf.Example features: raw ones (ingestion, augmenter, Evaluator, serving) and
transformed ones (Transform output, Trainer input), kept apart by the `_xf` suffix."""

# Raw features written by components/s3_audio_example_gen (schema: contract/schema.pbtxt).
WAVEFORM = "waveform"          # float32 samples at the pipeline's sample rate, one segment
LABEL = "label"                # int64 index into the configured language list
LANGUAGE = "language"          # bytes, the language name (the slicing key in TFMA)
SPEAKER_ID = "speaker_id"      # bytes
SOURCE_KEY = "source_key"      # bytes, the S3 key of the clip
SEGMENT_INDEX = "segment_index"  # int64, position of the segment in its clip
DURATION_S = "duration_s"      # float, seconds of real audio in the segment (the rest is zero padding)
DURATION_BUCKET = "duration_bucket"  # bytes, DURATION_S rounded up to whole seconds ("1s", "2s", ...): TFMA slice

# Statistics of the whole clip (audio/stats.py), repeated on each of its segments, for data
# validation (StatisticsGen reads only these, never the waveform).
CLIP_DURATION_S = "clip_duration_s"              # float, decoded clip before trimming
CLIP_RMS_DBFS = "clip_rms_dbfs"                  # float
CLIP_PEAK_DBFS = "clip_peak_dbfs"                # float
CLIP_CLIPPED_FRACTION = "clip_clipped_fraction"  # float, samples at >= 0.99 of full scale
CLIP_SILENT_FRACTION = "clip_silent_fraction"    # float, silent 20 ms frames
CLIP_SOURCE_SAMPLE_RATE = "clip_source_sample_rate"  # int64, from the file header
CLIP_SOURCE_CHANNELS = "clip_source_channels"    # int64
CLIP_FINGERPRINT = "clip_fingerprint"            # bytes, digest of the decoded audio
CLIP_STATS = (CLIP_DURATION_S, CLIP_RMS_DBFS, CLIP_PEAK_DBFS, CLIP_CLIPPED_FRACTION, CLIP_SILENT_FRACTION,
              CLIP_SOURCE_SAMPLE_RATE, CLIP_SOURCE_CHANNELS, CLIP_FINGERPRINT)

# Raw features that are metadata, not model inputs: dropped from serving inputs.
METADATA_KEYS = (LABEL, LANGUAGE, SPEAKER_ID, SOURCE_KEY, SEGMENT_INDEX, DURATION_S, DURATION_BUCKET) + CLIP_STATS

# Representations models/preprocessing.py can compute (chosen by FeatureConfig.representations
# in config/groups.py), each with the kind of model branch that reads it
# (models/keras_model/model.py).
WAVEFORM_REP = "waveform"             # [samples], unit RMS per utterance        -> 1-D conv branch
STFT_MAGNITUDE = "stft_magnitude"     # [frames, fft bins], linear magnitude     -> 2-D conv branch
POWER_SPECTROGRAM = "power_spectrogram"  # [frames, fft bins], log power         -> 2-D conv branch
LOG_MEL = "log_mel"            # [frames, mel bins], normalised per band         -> 2-D conv branch
MFCC = "mfcc"                  # [frames, coefficients (+ deltas)], per coefficient -> temporal conv branch
# Whisper-base's encoder (models/whisper), one pass per window giving two transformed features:
# WHISPER_XF, its states pooled over time ([1024] mean_std or [512] mean), z-scored per dimension
# -> the dense head; WHISPER_LANGUAGE_XF, Whisper's own log-probabilities over its 99 languages
# (log-softmax, Whisper's order) -> a fixed zero-shot term added to the head's logits.
WHISPER = "whisper"

REPRESENTATIONS = {WAVEFORM_REP: "waveform", STFT_MAGNITUDE: "image", POWER_SPECTROGRAM: "image",
                   LOG_MEL: "image", MFCC: "sequence", WHISPER: "pretrained"}

# Transformed features (the Transform's output): a representation or the label, suffixed.
TRANSFORMED_SUFFIX = "_xf"


def transformed_name(name: str) -> str:
    """'log_mel' -> 'log_mel_xf': the Transform output feature of a representation (or label)."""
    return name + TRANSFORMED_SUFFIX


def representation_of(transformed: str) -> str:
    """Inverse of transformed_name; a name without the suffix is returned unchanged."""
    return transformed[: -len(TRANSFORMED_SUFFIX)] if transformed.endswith(TRANSFORMED_SUFFIX) else transformed


LABEL_XF = transformed_name(LABEL)
WHISPER_XF = transformed_name(WHISPER)
WHISPER_LANGUAGE_XF = transformed_name("whisper_language")  # [99] log-probabilities, not z-scored
# Transform passes a hash of the speaker id through for the Trainer's calibration folds (not a model input).
SPEAKER_BUCKET = "speaker_bucket"
