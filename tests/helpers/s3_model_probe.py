"""Run by tests in a subprocess (tensorflow-io's S3 client aborts at interpreter exit, so it
never runs inside pytest): load a SavedModel from s3:// and from a local copy, score the same
waveforms with both, print the results as JSON."""
import json
import sys

import numpy as np

from storage.tf_s3 import enable_s3_filesystem, run_then_exit


def main():
    endpoint, s3_uri, local_dir = sys.argv[1:4]
    enable_s3_filesystem(endpoint)
    import tensorflow as tf

    # Speech-like clips (noise would be "no_speech", whose probabilities are all zero).
    from tests.helpers.serving_helpers import clip

    waveforms = tf.constant(np.stack([clip(language, 1.5, seed=i)[:24000]
                                      for i, language in enumerate(("English", "French", "German"))]))
    result = {}
    for name, path in (("s3", s3_uri), ("local", local_dir)):
        out = tf.saved_model.load(path).signatures["predict_waveform"](waveform=waveforms)
        result[name] = {"probabilities": out["probabilities"].numpy().tolist(),
                        "language": [x.decode() for x in out["language"].numpy()]}
    print("RESULT " + json.dumps(result), flush=True)
    return 0


run_then_exit(main)
