"""Walk the ops a serving signature (or any graph) can run, following every called function."""
from __future__ import annotations

import os

from tensorflow.core.protobuf import saved_model_pb2

# Op types that draw random numbers: augmentation (SpecAugment masks) or training-mode dropout.
RANDOM_OP_MARKERS = ("Random", "TruncatedNormal", "Multinomial")


def _walk(nodes, library, seen_functions, found):
    for node in nodes:
        found.add((node.op, node.name))
        funcs = []
        for attr in node.attr.values():
            if attr.HasField("func"):
                funcs.append(attr.func.name)
            funcs.extend(f.name for f in attr.list.func)
        if node.op in library:            # a function called directly by name
            funcs.append(node.op)
        for name in funcs:
            if name in library and name not in seen_functions:
                seen_functions.add(name)
                _walk(library[name].node_def, library, seen_functions, found)


def graph_def_ops(graph_def) -> set[tuple[str, str]]:
    """(op type, node name) of every node in graph_def and the functions it calls."""
    library = {f.signature.name: f for f in graph_def.library.function}
    found: set = set()
    _walk(graph_def.node, library, set(), found)
    return found


def signature_ops(saved_model_dir: str, signature: str) -> set[tuple[str, str]]:
    """(op type, node name) of everything the named signature of a SavedModel can execute."""
    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(saved_model_dir, "saved_model.pb"), "rb") as f:
        proto.ParseFromString(f.read())
    meta_graph = proto.meta_graphs[0]
    graph_def = meta_graph.graph_def
    library = {f.signature.name: f for f in graph_def.library.function}
    outputs = {t.name.split(":")[0] for t in meta_graph.signature_def[signature].outputs.values()}
    start = [node for node in graph_def.node if node.name in outputs]
    assert start, f"signature {signature!r} outputs not found in the graph"
    found: set = set()
    _walk(start, library, set(), found)
    return found


def augmentation_ops(ops) -> list[tuple[str, str]]:
    """The random-number and SpecAugment ops among ``ops``: a serving graph must have none."""
    return sorted((op, name) for op, name in ops
                  if any(marker in op for marker in RANDOM_OP_MARKERS) or "spec_augment" in name.lower())
