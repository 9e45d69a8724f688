"""Beam pipelines on a local Dask cluster of 2 worker processes (tests/helpers/beam_dask.py).

What runs there: Create -> Map/FlatMap -> GroupByKey, with the results computed in the Dask
worker processes. What does not (apache-beam 2.59's Dask runner): DoFn.setup, tagged
outputs and side inputs, so neither ingestion nor Transform runs on it
(docs/kubeflow_and_scale.md says which transform fails and why); the last test pins the
first of those limits so the docs notice when a Beam upgrade lifts it.
"""
from __future__ import annotations

import os

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield local


def options(cluster, *extra):
    # --labels is one of the options TFX sets that Beam 2.59's own DaskRunner passes on to
    # distributed.Client and fails with.
    return PipelineOptions(["--runner=tests.helpers.beam_dask.DaskRunner",
                            f"--dask_client_address={cluster.scheduler_address}", "--labels=k=v", *extra])


def worker_pids(pids: list[int]) -> set[int]:
    return set(pids) - {os.getpid()}


class _CollectToFile(beam.DoFn):
    def __init__(self, path):
        self._path = path

    def process(self, element):
        with open(self._path, "a") as f:
            f.write(f"{element}\n")
        return []  # the Dask runner flattens what process returns: an iterable, even when empty


def test_group_by_key_on_two_dask_workers(cluster, tmp_path):
    out = tmp_path / "out.txt"
    with beam.Pipeline(options=options(cluster)) as p:
        (p
         | beam.Create([(f"k{i % 5}", i) for i in range(100)])
         | beam.GroupByKey()
         | beam.Map(lambda kv: (kv[0], sum(kv[1]), os.getpid()))
         | beam.ParDo(_CollectToFile(str(out))))
    rows = [eval(line) for line in out.read_text().splitlines()]  # noqa: S307 - our own tuples
    assert sorted((key, total) for key, total, _ in rows) == sorted(
        (f"k{k}", sum(i for i in range(100) if i % 5 == k)) for k in range(5))
    assert worker_pids([pid for _, _, pid in rows]), "the work ran in this process, not on Dask workers"


class _NeedsSetup(beam.DoFn):
    def setup(self):
        self.ready = True

    def process(self, element):
        yield getattr(self, "ready", False)


def test_dask_runner_of_beam_2_59_skips_dofn_setup(cluster, tmp_path):
    out = tmp_path / "setup.txt"
    with beam.Pipeline(options=options(cluster)) as p:
        p | beam.Create([1, 2]) | beam.ParDo(_NeedsSetup()) | beam.ParDo(_CollectToFile(str(out)))
    assert out.read_text().split() == ["False", "False"]
