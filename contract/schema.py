"""Where the schema of the raw tf.Examples (ImportSchemaGen's input) lives."""
from __future__ import annotations

import os

# Relative to the project root: the Kubeflow image puts the project at its own root.
SCHEMA_RELATIVE_PATH = "contract/schema.pbtxt"
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), SCHEMA_RELATIVE_PATH)
