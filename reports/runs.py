"""Which pipeline runs ML Metadata holds, and what each component did in one of them.

Shared by the run summary, the model card, the stage bench and tests: one reading of the store.
"""
from __future__ import annotations

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2


def run_names(connection_config) -> set[str]:
    """Names (run ids) of the pipeline runs recorded so far; the one a run adds is its own."""
    store = metadata_store.MetadataStore(connection_config)
    return {c.name for c in store.get_contexts_by_type("pipeline_run")}


def latest_run(store, pipeline_name: str, run_name: str | None = None) -> dict[str, tuple]:
    """component id -> (execution, {output key: [artifacts]}) for the run `run_name` (default: the newest)."""
    runs = store.get_contexts_by_type("pipeline_run")
    if run_name is not None:
        runs = [c for c in runs if c.name == run_name]
    if not runs:
        raise RuntimeError(f"no pipeline run {run_name or ''} recorded in ML Metadata")
    run = max(runs, key=lambda c: c.create_time_since_epoch)
    in_run = {e.id: e for e in store.get_executions_by_context(run.id)}
    result = {}
    for node in store.get_contexts_by_type("node"):
        component = node.name.split(".", 1)[1] if node.name.startswith(pipeline_name + ".") else node.name
        for execution in store.get_executions_by_context(node.id):
            if execution.id not in in_run:
                continue
            outputs: dict[str, list] = {}
            events = store.get_events_by_execution_ids([execution.id])
            out_events = [e for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
            artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in out_events])}
            for event in out_events:
                key = event.path.steps[0].key if event.path.steps else ""
                outputs.setdefault(key, []).append(artifacts[event.artifact_id])
            result[component] = (execution, outputs)
    return result
