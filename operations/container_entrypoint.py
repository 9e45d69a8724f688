"""The command of every Kubeflow step: TFX's KFP v2 executor launcher, with s3:// artifacts.

KubeflowV2DagRunner would run `python -m tfx.orchestration.kubeflow.v2.container.
kubeflow_v2_run_executor` directly; kubeflow_runner makes each container run this module
instead, which (1) registers tensorflow-io's S3 filesystem on the endpoint from the pod's
environment (AWS_ENDPOINT_URL for MinIO and the like; unset for AWS), (2) runs that launcher
unchanged with the step's arguments and (3) exits with the launcher's status without the C++
teardown in which tensorflow-io's S3 client aborts (which would fail a step that succeeded).

    python -m operations.container_entrypoint [--module MODULE] ARGS...
"""
from __future__ import annotations

import runpy
import sys

from storage.tf_s3 import enable_s3_filesystem, run_then_exit

TFX_LAUNCHER = "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"


def main(argv: list[str] | None = None) -> None:
    """Register s3:// for TensorFlow, then run the launcher (or --module MODULE) as `python -m`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    module = TFX_LAUNCHER
    if argv[:1] == ["--module"]:
        module, argv = argv[1], argv[2:]
    enable_s3_filesystem()
    sys.argv = [module, *argv]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    run_then_exit(main)
