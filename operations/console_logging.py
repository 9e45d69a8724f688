"""local_runner's console: component progress and this project's messages, not TFX's chatter."""
from __future__ import annotations

import logging
import os


class _ProgressFilter(logging.Filter):
    """Without --verbose: warnings, component start/finish, and this project's own messages."""

    OWN = ("components", "pipeline", "models", "storage", "audio", "reports", "operations")
    # On an s3:// root TFX warns (with a page of execution info) that its empty scratch
    # folders are gone: S3 has no empty folders. Nothing is wrong.
    S3_FOLDER_NOISE = ("is not found, not going to delete it", "is not found, it is likely that it has been deleted")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return not (record.levelno == logging.WARNING and any(s in message for s in self.S3_FOLDER_NOISE))
        return (message.startswith("Component ") and message.endswith(("is running.", "is finished."))) \
            or record.name.split(".")[0] in self.OWN


def configure_logging(verbose: bool, quiet: bool) -> None:
    """Log lines on stderr: everything with verbose, warnings only with quiet, else progress."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if verbose else "2")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    if not verbose:
        handler.addFilter(_ProgressFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if quiet else logging.INFO)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING if quiet else absl_logging.INFO)
    absl_logging.use_python_logging()
