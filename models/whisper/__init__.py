"""Whisper-base, a pretrained multilingual speech model, in core TensorFlow ops.

weights (pinned, verified), frontend (log-mel), encoder, language (its language head).
"""
