"""Custom TFX components: S3 audio ingestion and train-split augmentation."""
