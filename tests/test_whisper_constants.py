"""models/whisper/encoder.constant: weights that float16 holds exactly travel as float16 in the graph."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.whisper import encoder


def _graph_of(arrays):
    @tf.function
    def f():
        return encoder.constants(arrays)

    concrete = f.get_concrete_function()
    return concrete, concrete.graph.as_graph_def()


def test_float16_exact_weights_are_half_the_bytes_and_the_same_values():
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(512, 512)).astype(np.float16).astype(np.float32)   # as Whisper's file holds them
    concrete, graph = _graph_of({"kernel": kernel})
    (out,) = tf.nest.flatten(concrete())
    assert out.dtype == tf.float32
    np.testing.assert_array_equal(out.numpy(), kernel)
    consts = [n for n in graph.node if n.op == "Const"]
    assert [tf.dtypes.as_dtype(n.attr["dtype"].type) for n in consts] == [tf.float16]
    assert graph.ByteSize() < 0.6 * kernel.nbytes


def test_other_weights_stay_float32_constants():
    rng = np.random.default_rng(1)
    inexact = rng.normal(size=(512, 512)).astype(np.float32)                 # float16 would round these
    small = rng.normal(size=(512,)).astype(np.float16).astype(np.float32)    # a bias or layer-norm scale
    concrete, graph = _graph_of({"inexact": inexact, "small": (small,)})
    out = concrete()
    np.testing.assert_array_equal(out["inexact"].numpy(), inexact)
    np.testing.assert_array_equal(out["small"][0].numpy(), small)
    dtypes = {tf.dtypes.as_dtype(n.attr["dtype"].type) for n in graph.node if n.op == "Const"}
    assert dtypes == {tf.float32}
    assert not any(n.op == "Cast" for n in graph.node)
