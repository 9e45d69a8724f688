"""Whisper-base, a pretrained multilingual speech model, in core TensorFlow ops.

weights (pinned, verified), frontend (log-mel), encoder, language (its language head),
languages (its 99 languages' codes and English names; a model's folder names -> codes).
"""
