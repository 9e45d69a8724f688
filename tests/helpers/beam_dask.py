"""Beam's Dask runner, with the one fix it needs to run a TFX component's pipeline.

apache-beam 2.59's DaskRunner hands *every* non-default pipeline option to
`distributed.Client(...)`, so any pipeline that sets `--runner`, or that TFX labels
(`labels`, `extra_packages`), stops with "Client: Unexpected keyword arguments"; and its
result calls `Client.wait_for_workers()` without the `n_workers` that distributed >= 2023
requires. This subclass passes the Client only the Dask options (`--dask_client_address`,
...) and waits for the job's futures alone. What the runner itself still lacks (DoFn
setup/bundles, tagged outputs, side inputs) is in docs/kubeflow_and_scale.md; since neither
ingestion nor Transform can run on it, it lives beside its only user, tests/test_dask_runner.py.

    --runner=tests.helpers.beam_dask.DaskRunner --dask_client_address=tcp://SCHEDULER:8786
"""
from __future__ import annotations

from apache_beam.runners.dask import dask_runner


class _ClientOptions:
    """The pipeline options, viewed as only the Dask client's own options."""

    def __init__(self, options):
        self._options = options

    def view_as(self, cls):
        view = self._options.view_as(cls)
        if cls is not dask_runner.DaskOptions:
            return view
        own = {action.dest for action in _dask_parser()._actions}
        original = view.get_all_options

        class _Filtered:
            def get_all_options(self, *args, **kwargs):
                return {k: v for k, v in original(*args, **kwargs).items() if k in own}

        return _Filtered()


def _dask_parser():
    import argparse

    parser = argparse.ArgumentParser()
    dask_runner.DaskOptions._add_argparse_args(parser)  # pylint: disable=protected-access
    return parser


class DaskRunner(dask_runner.DaskRunner):
    """DaskRunner whose Client gets only the --dask_* options."""

    def run_pipeline(self, pipeline, options):
        result = super().run_pipeline(pipeline, _ClientOptions(options))
        return _Result(result.client, result.futures)


class _Result(dask_runner.DaskRunnerResult):
    def wait_until_finish(self, duration=None) -> str:
        from apache_beam.runners.runner import PipelineState

        try:
            self.client.gather(self.futures, errors="raise")
            self._state = PipelineState.DONE
        except BaseException:
            self._state = PipelineState.FAILED
            raise
        return self._state
