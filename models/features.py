"""Names of the tf.Example features, shared by ingestion, Transform, Trainer and Evaluator."""

# Raw features written by components/s3_audio_example_gen.
WAVEFORM = "waveform"          # float32 samples at the pipeline's sample rate, one segment
LABEL = "label"                # int64 index into the configured language list
LANGUAGE = "language"          # bytes, the language name (the slicing key in TFMA)
SPEAKER_ID = "speaker_id"      # bytes
SOURCE_KEY = "source_key"      # bytes, the S3 key of the clip
SEGMENT_INDEX = "segment_index"  # int64, position of the segment in its clip

# Raw features that are metadata, not model inputs: dropped from serving inputs.
METADATA_KEYS = (LABEL, LANGUAGE, SPEAKER_ID, SOURCE_KEY, SEGMENT_INDEX)

# Transformed features.
LOG_MEL = "log_mel"            # [frames, mel bins], normalised per band
MFCC = "mfcc"                  # [frames, coefficients], normalised per coefficient
LABEL_OUT = "label"

MODEL_INPUTS = (LOG_MEL, MFCC)
