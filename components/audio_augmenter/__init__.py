"""AudioAugmenter: K seeded augmented copies of every train segment, eval passed through."""
from components.audio_augmenter.component import AudioAugmenter

__all__ = ["AudioAugmenter"]
