"""Audio signal processing for langid-tfx (waveform augmentation and plots)."""
