"""Running the pipeline as a service: the output-dir lock, console logging, the Kubeflow package
and the container entrypoint."""
