"""Beam imports this module in every SDK worker (`--beam_plugin=storage.tf_s3_plugin`).

Worker processes (DirectRunner multi-processing, Dataflow, Flink, Spark) start without the
runner's imports, yet TFX code in them (tf.Transform's transform_fn writer, TFMA) opens
s3:// paths through tf.io.gfile: importing this registers tensorflow-io's S3 filesystem there
on the endpoint from the worker's environment.
"""
from storage.tf_s3 import enable_s3_filesystem

enable_s3_filesystem()
