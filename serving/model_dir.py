"""Find the SavedModel to load: a version folder itself, or the newest version under a base
folder, with the rule TF Serving uses (the largest integer folder name)."""
from __future__ import annotations

import os


class ModelNotFound(FileNotFoundError):
    pass


def _is_saved_model(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "saved_model.pb"))


def resolve_model_dir(path: str) -> str:
    """DIR/saved_model.pb -> DIR; else DIR/<largest integer with a saved_model.pb>."""
    if _is_saved_model(path):
        return path
    if not os.path.isdir(path):
        raise ModelNotFound(f"{path}: no such model folder")
    versions = [int(name) for name in os.listdir(path)
                if name.isdigit() and _is_saved_model(os.path.join(path, name))]
    if not versions:
        raise ModelNotFound(f"{path}: no saved_model.pb in it nor in a numbered version folder under it")
    return os.path.join(path, str(max(versions)))
