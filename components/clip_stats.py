"""Clip statistics (audio/stats.py) as tf.train.Features, repeated on every segment of the clip."""
from __future__ import annotations

import tensorflow as tf


def stats_to_features(stats: dict) -> dict[str, tf.train.Feature]:
    """float -> FloatList, int -> Int64List, str -> BytesList, one value each."""
    out = {}
    for name, value in stats.items():
        if isinstance(value, str):
            out[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        elif isinstance(value, (int, bool)):
            out[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
        else:
            out[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
    return out
