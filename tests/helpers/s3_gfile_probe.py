"""Run by tests through `python -m operations.container_entrypoint --module s3_gfile_probe URI TEXT CODE`:
writes TEXT to URI with tf.io.gfile (s3:// needs the entrypoint's set-up), then exits with CODE."""
import sys

import tensorflow as tf

uri, text, code = sys.argv[1], sys.argv[2], int(sys.argv[3])
with tf.io.gfile.GFile(uri, "w") as f:
    f.write(text)
sys.exit(code)
