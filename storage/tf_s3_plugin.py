"""Beam imports this module in every SDK worker (`--beam_plugin=storage.tf_s3_plugin`).

Worker processes (DirectRunner multi-processing, Dataflow, Flink, Spark) start without the
runner's imports, yet TFX code in them (tf.Transform's transform_fn writer, TFMA) opens
s3:// paths through tf.io.gfile: importing this registers tensorflow-io's S3 filesystem there
on the endpoint from the worker's environment. The worker then ends without tensorflow-io's
aborting C++ teardown, so the runner does not see a crashed worker after a good job.
"""
from storage.tf_s3 import enable_s3_filesystem, exit_now_at_interpreter_exit

enable_s3_filesystem()
exit_now_at_interpreter_exit()
