"""See what the model is trained on: PNGs of one clip, augmented and represented.

    python -m models.visualize CLIP.mp3 --out DIR [--seconds 4] [--seed 0]

Writes, for any audio file soundfile reads (MP3, WAV, FLAC, OGG):
  DIR/augmentations.png             the clip, then every augmentation applied alone
  DIR/augment_<name>.png            before/after for one augmentation (waveform + spectrogram)
  DIR/representations.png           every representation the Transform can compute
  DIR/representation_<name>.png     one representation
Augmentations use the strongest setting allowed by configs.AUGMENTATION_ALL (whatever their
probability); representations use configs.FEATURES (before the train-split z-score, which
needs the whole training set).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from pipeline import configs


def load_clip(path: str, sample_rate: int, seconds: float) -> np.ndarray:
    from audio.decode import decode_audio
    from audio.segment import trim_silence

    with open(path, "rb") as f:
        waveform = decode_audio(f.read(), sample_rate)
    trimmed = trim_silence(waveform, sample_rate, configs.TRIM_THRESHOLD_DB)
    waveform = trimmed if trimmed.size else waveform
    return waveform[: int(seconds * sample_rate)]


def compute_representations(waveform: np.ndarray, feature_config: dict) -> dict[str, np.ndarray]:
    import tensorflow as tf

    from models.preprocessing import representations

    config = {**feature_config, "segment_seconds": waveform.size / feature_config["sample_rate"]}
    out = representations(tf.constant(waveform[None].astype(np.float32)), config)
    return {name: value.numpy()[0] for name, value in out.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("clip", help="an audio file (MP3, WAV, FLAC, OGG)")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--seconds", type=float, default=4.0, help="length of the excerpt shown (after trimming)")
    p.add_argument("--seed", type=int, default=0, help="randomness of noise-like augmentations")
    p.add_argument("--representations", default=",".join(["waveform", "stft_magnitude", "power_spectrogram",
                                                          "log_mel", "mfcc"]))
    p.add_argument("--num-mel-bins", type=int, default=configs.FEATURES["num_mel_bins"])
    p.add_argument("--mfcc-deltas", type=int, default=configs.FEATURES["mfcc_deltas"], choices=(0, 1, 2))
    args = p.parse_args(argv)

    from audio.augment import REGISTRY, AugmentationPolicy
    from audio.decode import DecodeError
    from audio.plots import plot_augmentations, plot_representations

    rate = configs.SAMPLE_RATE
    try:
        waveform = load_clip(args.clip, rate, args.seconds)
    except (OSError, DecodeError) as err:
        print(f"cannot read {args.clip}: {err}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    written = []
    config = AugmentationPolicy.from_dict(configs.AUGMENTATION_ALL).default
    written.append(plot_augmentations(waveform, rate, os.path.join(args.out, "augmentations.png"), args.seed, config))
    for name in REGISTRY:
        written.append(plot_augmentations(waveform, rate, os.path.join(args.out, f"augment_{name}.png"), args.seed,
                                          config, names=[name]))

    feature_config = {**configs.FEATURES, "representations": configs.parse_languages(args.representations),
                      "num_mel_bins": args.num_mel_bins, "mfcc_deltas": args.mfcc_deltas}
    values = compute_representations(waveform, feature_config)
    plot_args = dict(sample_rate=rate, hop_ms=feature_config["hop_ms"], lower_hz=feature_config["lower_hz"],
                     upper_hz=feature_config["upper_hz"])
    written.append(plot_representations(values, out_path=os.path.join(args.out, "representations.png"),
                                        title=os.path.basename(args.clip), **plot_args))
    for name, value in values.items():
        written.append(plot_representations({name: value}, out_path=os.path.join(args.out, f"representation_{name}.png"),
                                            title=os.path.basename(args.clip), **plot_args))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
