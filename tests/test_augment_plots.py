"""Pictures of augmentations (audio/plots.py)."""
from __future__ import annotations

from audio import augment as A
from tests.helpers.audio_signals import SR, speechlike, tone


def test_plot_augmentations_writes_png(tmp_path):
    import matplotlib.image as mpimg

    from audio import plots

    path = plots.plot_augmentations(speechlike(0.5), SR, tmp_path / "sub" / "aug.png", seed=0)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = mpimg.imread(path)
    rows = 1 + len(A.REGISTRY)
    assert image.shape[0] == round(plots.ROW_HEIGHT_IN * rows * plots.DPI)
    assert image.shape[1] > 800
    assert image[..., :3].std() > 0.05  # not blank

    spec = plots.plot_spectrogram(tone(440.0, 0.5), SR, tmp_path / "spec.png", "tone")
    assert spec.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_labels_read_each_setting_and_fall_back_to_its_fields():
    from audio import plots

    assert plots.augmentation_label("pitch_scale", {"semitones": 2.0}, SR) == "pitch_scale (semitones=+2.00)"
    # An augmentation with no label of its own still gets a readable one.
    assert plots.augmentation_label("telephone", {"low_hz": 300.0, "order": 4}, SR) == "telephone (low_hz=300, order=4)"
    # Every registered augmentation's strongest setting can be labelled.
    config = A.AugmentationConfig()
    for name in A.REGISTRY:
        assert plots.augmentation_label(name, config[name].strongest(SR, SR), SR).startswith(f"{name} (")
