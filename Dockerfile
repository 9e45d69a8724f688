# The image every Kubeflow step runs in (kubeflow_runner.py --image REGISTRY/langid-tfx:TAG).
#
#   docker build -t REGISTRY/langid-tfx:TAG . && docker push REGISTRY/langid-tfx:TAG
#
# Same Python minor version (3.11) and the same pinned install as `make` and CI: both run
# scripts/install.sh, which installs requirements/*.txt under requirements/constraints.txt,
# then tfx 1.16 with --no-deps, then this project (tests/test_dockerfile.py checks this).
# No credentials are baked in: steps get AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from a
# Kubernetes secret at run time (see docs/kubeflow_and_scale.md).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TF_CPP_MIN_LOG_LEVEL=1 \
    PYTHONPATH=/langid-tfx

WORKDIR /langid-tfx
COPY . /langid-tfx
RUN bash scripts/install.sh --system

# KFP v2 steps name this command themselves (kubeflow_runner sets it for every container);
# as the image's entrypoint it also serves `docker run IMAGE --executor_class_path ...`.
ENTRYPOINT ["python", "-m", "operations.container_entrypoint"]
