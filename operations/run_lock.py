"""One run at a time per output directory, and no trace left of a run that was killed.

Two runs sharing an output dir share its ML Metadata, reports and pipeline root: each would
report the other's model. `exclusive_output_dir` takes an fcntl lock for the whole run, so a
second run fails at once with a clear message; the kernel drops the lock when the holder
dies, so a killed run never blocks the next one.

A killed run leaves its execution RUNNING in ML Metadata and its partial output folders on
disk. `fail_interrupted_executions`, called by the next run while it holds the lock (so no
other run can be live), marks them FAILED and removes the folders.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

LOCK_NAME = ".run.lock"


class OutputDirBusy(RuntimeError):
    """Another run holds this output directory."""


@contextlib.contextmanager
def exclusive_output_dir(output_dir: str) -> Iterator[str]:
    """Hold OUTPUT_DIR/.run.lock for the duration; raise OutputDirBusy if another run holds it."""
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_NAME)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise OutputDirBusy(
                f"output dir {os.path.abspath(output_dir)} is in use by another run ({holder}); "
                "wait for it to finish or pass another --output-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the lock


def fail_interrupted_executions(connection_config, pipeline_root: str) -> list[str]:
    """Mark executions left RUNNING (or NEW) FAILED and delete their partial outputs.

    Only call while holding the output dir's lock: then no live run owns such an execution.
    Output folders follow TFX's layout, PIPELINE_ROOT/NODE_ID/OUTPUT_KEY/EXECUTION_ID, plus
    the node's .system folders of that execution. Returns 'node #id' per execution.
    """
    import tensorflow as tf
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    store = metadata_store.MetadataStore(connection_config)
    live = (metadata_store_pb2.Execution.RUNNING, metadata_store_pb2.Execution.NEW)
    cleaned = []
    for execution in store.get_executions():
        if execution.last_known_state not in live:
            continue
        nodes = [c.name.split(".", 1)[-1] for c in store.get_contexts_by_execution(execution.id)
                 if store.get_context_types_by_id([c.type_id])[0].name == "node"]
        for node in nodes:
            pattern = os.path.join(pipeline_root, node, "*", str(execution.id))
            system = os.path.join(pipeline_root, node, ".system", "executor_execution", str(execution.id))
            # TFX empties a node's stateful working dirs when an execution succeeds; one left
            # (named by a UUID it does not record) belongs to an unfinished execution.
            stateful = os.path.join(pipeline_root, node, ".system", "stateful_working_dir", "*")
            for folder in tf.io.gfile.glob(pattern) + tf.io.gfile.glob(system) + tf.io.gfile.glob(stateful):
                tf.io.gfile.rmtree(folder)
        execution.last_known_state = metadata_store_pb2.Execution.FAILED
        execution.custom_properties["interrupted"].string_value = "left RUNNING by a run that was stopped"
        store.put_executions([execution])
        cleaned.append(f"{'/'.join(nodes) or 'execution'} #{execution.id}")
    return cleaned
