"""Per-segment cost of the intermediate examples' payload: float list vs 16-bit PCM bytes.

Every segment (3 s at 16 kHz) is written once by ingestion and read (parsed) three times by
Transform (train is read by the analysis pass and again by the transform pass; eval once).
This measures, on real segments of the demo corpus, what each step costs per segment:

    serialize      tf.Example with a 48,000-value FloatList vs the same samples as int16 PCM bytes
    crc32c         TFRecord framing checksum: crcmod (what Beam uses without python-snappy)
                   vs google-crc32c (already installed, hardware CRC)
    gzip           Beam's TFRecord sink compression (zlib level 6) vs level 1 vs none
    gunzip
    decode+tensor  what Transform does with each record: tfx_bsl's Example -> Arrow decoder and
                   TensorAdapter -> the tensor preprocessing_fn receives, for the schemas:
                   varlen float (today: SparseTensor), ragged float, fixed float [48000],
                   PCM bytes (then tf.io.decode_raw in the graph)

    python -m bench.payload_levers [--segments 256]
"""
from __future__ import annotations

import argparse
import json
import os
import time
import zlib

import numpy as np

from config import DEMO_CORPUS_DIR

BATCH = 64


def demo_segments(count: int) -> list[np.ndarray]:
    from audio import speech
    from audio.decode import decode_audio
    from audio.segment import fixed_segments

    out = []
    with open(os.path.join(DEMO_CORPUS_DIR, "manifest.jsonl")) as f:
        for line in f:
            with open(os.path.join(DEMO_CORPUS_DIR, json.loads(line)["key"]), "rb") as clip:
                voiced = speech.trim(decode_audio(clip.read(), 16000), 16000)
            out.extend(fixed_segments(voiced, 48000, 24000))
            if len(out) >= count:
                return out[:count]
    return out


def per_segment_ms(fn, items, repeat: int = 1) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for item in items:
            fn(item)
    return 1000 * (time.perf_counter() - started) / (repeat * len(items))


def examples(segments, payload: str) -> list[bytes]:
    import tensorflow as tf

    from contract.codec import float_feature

    out = []
    for segment in segments:
        if payload == "float":
            wave = float_feature(segment)
        else:
            pcm = np.clip(np.round(segment * 32767.0), -32768, 32767).astype("<i2").tobytes()
            wave = tf.train.Feature(bytes_list=tf.train.BytesList(value=[pcm]))
        out.append(tf.train.Example(features=tf.train.Features(feature={
            "waveform": wave, "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[1]))}))
            .SerializeToString())
    return out


def schema(kind: str):
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    present = "presence { min_fraction: 1.0 min_count: 1 }"
    waveform = {"varlen": 'name: "waveform" type: FLOAT',
                "ragged": 'name: "waveform" type: FLOAT',
                "fixed": 'name: "waveform" type: FLOAT shape { dim { size: 48000 } }',
                "pcm": 'name: "waveform" type: BYTES shape { dim { size: 1 } }'}[kind]
    text = (f'feature {{ {waveform} {present} }} '
            f'feature {{ name: "label" type: INT {present} shape {{ dim {{ size: 1 }} }} }}')
    if kind == "ragged":
        text += ('tensor_representation_group { key: "" value { tensor_representation { key: "waveform" value {'
                 ' ragged_tensor { feature_path { step: "waveform" } } } }'
                 ' tensor_representation { key: "label" value { dense_tensor { column_name: "label"'
                 ' shape { dim { size: 1 } } } } } } }')
    return text_format.Parse(text, schema_pb2.Schema())


def decode_to_tensor_ms(records: list[bytes], kind: str) -> float:
    """Arrow decoding + tensor conversion + the dense float32 [batch, 48000] the graph computes on."""
    import tensorflow as tf
    from tfx_bsl.coders import example_coder
    from tfx_bsl.tfxio import tensor_adapter, tensor_representation_util

    sch = schema(kind)
    decoder = example_coder.ExamplesToRecordBatchDecoder(sch.SerializeToString())
    batch = decoder.DecodeBatch(records[:BATCH])
    representations = (tensor_representation_util.GetTensorRepresentationsFromSchema(sch)
                       or tensor_representation_util.InferTensorRepresentationsFromSchema(sch))
    adapter = tensor_adapter.TensorAdapter(tensor_adapter.TensorAdapterConfig(batch.schema, representations))

    def dense(tensor):
        if isinstance(tensor, tf.SparseTensor):
            return tf.sparse.to_dense(tensor)
        if isinstance(tensor, tf.RaggedTensor):
            return tensor.to_tensor()
        if tensor.dtype == tf.string:
            return tf.cast(tf.io.decode_raw(tf.reshape(tensor, [-1]), tf.int16), tf.float32) / 32768.0
        return tensor

    def one_batch(chunk):
        tensors = adapter.ToBatchTensors(decoder.DecodeBatch(chunk), produce_eager_tensors=True)
        dense(tensors["waveform"]).numpy()

    chunks = [records[i:i + BATCH] for i in range(0, len(records), BATCH)]
    one_batch(chunks[0])  # warm-up
    return per_segment_ms(one_batch, chunks) * len(chunks) / len(records)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", type=int, default=256)
    args = p.parse_args(argv)
    import crcmod.predefined
    import google_crc32c

    segments = demo_segments(args.segments)
    crcmod_fn = crcmod.predefined.mkPredefinedCrcFun("crc-32c")
    rows = {}
    for payload in ("float", "pcm"):
        examples(segments[:1], payload)  # imports TensorFlow outside the timing
        serialize_ms = per_segment_ms(lambda s, p=payload: examples([s], p), segments)
        records = examples(segments, payload)
        compressed = {level: [zlib.compress(r, level) for r in records] for level in (6, 1)}
        rows[payload] = {
            "record_kb": round(np.mean([len(r) for r in records]) / 1024, 1),
            "serialize_ms": round(serialize_ms, 3),
            "crc32c_crcmod_ms": round(per_segment_ms(crcmod_fn, records), 3),
            "crc32c_google_ms": round(per_segment_ms(google_crc32c.value, records), 3),
            **{f"gzip{level}_ms": round(per_segment_ms(lambda r, lv=level: zlib.compress(r, lv), records), 3)
               for level in (6, 1)},
            **{f"gzip{level}_kb": round(np.mean([len(c) for c in compressed[level]]) / 1024, 1) for level in (6, 1)},
            "gunzip6_ms": round(per_segment_ms(zlib.decompress, compressed[6]), 3),
        }
        kinds = ("varlen", "ragged", "fixed") if payload == "float" else ("pcm",)
        for kind in kinds:
            rows[payload][f"decode_to_tensor_{kind}_ms"] = round(decode_to_tensor_ms(records, kind), 3)
        print(payload, json.dumps(rows[payload]), flush=True)
    # PCM is lossless for 16-bit sources; for these (float decoded MP3) it rounds to 1/32768.
    error = max(float(np.max(np.abs(np.round(s * 32767.0) / 32767.0 - s))) for s in segments)
    print(f"{len(segments)} segments; max |float - PCM16| = {error:.2e}; load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
