"""See what the model is trained on: PNGs of one clip, augmented and represented.

    python -m reports.plots CLIP.mp3 --out DIR [--seconds 4] [--seed 0]

Writes, for any audio file soundfile reads (MP3, WAV, FLAC, OGG):
  DIR/augmentations.png             the clip, then every augmentation applied alone
  DIR/augment_<name>.png            before/after for one augmentation (waveform + spectrogram)
  DIR/representations.png           every representation the Transform can compute
  DIR/representation_<name>.png     one representation
Augmentations use the strongest setting allowed by the 'all' preset (AUGMENTATION_ALL in
config/groups.py, whatever their probability); representations use FeatureConfig (before
the train-split z-score, which needs the whole training set).
"""
from __future__ import annotations

import argparse
import os
import sys

from config import AUGMENTATION_ALL, ConfigError, PipelineConfig
from contract.features import REPRESENTATIONS
from pipeline.flags import comma_list


def main(argv=None) -> int:
    defaults = PipelineConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("clip", help="an audio file (MP3, WAV, FLAC, OGG)")
    p.add_argument("--out", required=True, help="folder for the PNGs")
    p.add_argument("--seconds", type=float, default=4.0, help="length of the excerpt shown (after trimming)")
    p.add_argument("--seed", type=int, default=0, help="randomness of noise-like augmentations")
    p.add_argument("--representations", default=",".join(REPRESENTATIONS))
    p.add_argument("--num-mel-bins", type=int, default=defaults.features.num_mel_bins)
    p.add_argument("--mfcc-deltas", type=int, default=defaults.features.mfcc_deltas, choices=(0, 1, 2))
    args = p.parse_args(argv)
    try:
        config = defaults.override(features={"representations": comma_list(args.representations),
                                             "num_mel_bins": args.num_mel_bins, "mfcc_deltas": args.mfcc_deltas})
    except ConfigError as err:
        p.error(str(err))

    from audio.decode import DecodeError
    from models.visualize import load_clip, write_pictures

    try:
        waveform = load_clip(args.clip, config.data.sample_rate, args.seconds)
    except (OSError, DecodeError) as err:
        print(f"cannot read {args.clip}: {err}", file=sys.stderr)
        return 2
    for path in write_pictures(waveform, args.out, os.path.basename(args.clip), seed=args.seed,
                               augmentation_policy=AUGMENTATION_ALL, features=config.features,
                               sample_rate=config.data.sample_rate):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
