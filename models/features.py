"""Names of the tf.Example features, shared by ingestion, Transform, Trainer and Evaluator."""

# Raw features written by components/s3_audio_example_gen.
WAVEFORM = "waveform"          # float32 samples at the pipeline's sample rate, one segment
LABEL = "label"                # int64 index into the configured language list
LANGUAGE = "language"          # bytes, the language name (the slicing key in TFMA)
SPEAKER_ID = "speaker_id"      # bytes
SOURCE_KEY = "source_key"      # bytes, the S3 key of the clip
SEGMENT_INDEX = "segment_index"  # int64, position of the segment in its clip
DURATION_S = "duration_s"      # float, seconds of real audio in the segment (the rest is zero padding)
DURATION_BUCKET = "duration_bucket"  # bytes, DURATION_S rounded up to whole seconds ("1s", "2s", ...): TFMA slice

# Raw features that are metadata, not model inputs: dropped from serving inputs.
METADATA_KEYS = (LABEL, LANGUAGE, SPEAKER_ID, SOURCE_KEY, SEGMENT_INDEX, DURATION_S, DURATION_BUCKET)

# Transformed features: the representations models/preprocessing.py can compute (selected by
# FEATURES["representations"] in pipeline/configs.py), each with the kind of model branch
# that reads it (models/keras_model/model.py).
WAVEFORM_REP = "waveform"             # [samples], unit RMS per utterance        -> 1-D conv branch
STFT_MAGNITUDE = "stft_magnitude"     # [frames, fft bins], linear magnitude     -> 2-D conv branch
POWER_SPECTROGRAM = "power_spectrogram"  # [frames, fft bins], log power         -> 2-D conv branch
LOG_MEL = "log_mel"            # [frames, mel bins], normalised per band         -> 2-D conv branch
MFCC = "mfcc"                  # [frames, coefficients (+ deltas)], per coefficient -> temporal conv branch
LABEL_OUT = "label"
SPEAKER_BUCKET = "speaker_bucket"  # int64, a hash of the speaker id: calibration folds (not a model input)

REPRESENTATIONS = {WAVEFORM_REP: "waveform", STFT_MAGNITUDE: "image", POWER_SPECTROGRAM: "image",
                   LOG_MEL: "image", MFCC: "sequence"}
DEFAULT_REPRESENTATIONS = (LOG_MEL, MFCC)
