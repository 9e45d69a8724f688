"""S3AudioExampleGen: audio clips in an S3 bucket -> speaker-disjoint TFRecord splits."""
from components.s3_audio_example_gen.component import S3AudioExampleGen

__all__ = ["S3AudioExampleGen"]
