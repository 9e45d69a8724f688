"""Ingestion and Transform on Beam's DirectRunner with 2 worker processes give the same records
as one in-memory worker (what a distributed runner must preserve: no state shared by DoFns,
deterministic decoding, analyzers that combine across workers)."""
from __future__ import annotations

import threading

import numpy as np
import psutil
import pytest

from bench.heavy_stages import read_records, run_ingestion_and_transform
from config import CNN_REPRESENTATIONS, PipelineConfig
from contract.features import LABEL_XF, LOG_MEL, MFCC, transformed_name
from storage import s3
from storage.corpus import upload_corpus

LANGUAGES = ["English", "French", "German"]
BUCKET = "langid-multiprocess"
IN_MEMORY = ["--direct_running_mode=in_memory", "--direct_num_workers=1"]
TWO_PROCESSES = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
LOG_MEL_XF, MFCC_XF = transformed_name(LOG_MEL), transformed_name(MFCC)


class BeamWorkers:
    """Watches this process's children for Beam SDK worker processes while a run lasts:
    the PIDs seen, and the most seen alive at one time."""

    def __init__(self):
        self.pids: set[int] = set()
        self.most_at_once = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        me = psutil.Process()
        while not self._stop.is_set():
            alive = set()
            for child in me.children(recursive=True):
                try:
                    if "apache_beam.runners.worker.sdk_worker_main" in " ".join(child.cmdline()):
                        alive.add(child.pid)
                except psutil.Error:          # exited between the listing and the look
                    pass
            self.pids |= alive
            self.most_at_once = max(self.most_at_once, len(alive))
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def runs(s3_endpoint, tiny_corpus, tmp_path_factory):
    client = s3.make_client(s3_endpoint)
    s3.ensure_bucket(client, BUCKET)
    upload_corpus(client, BUCKET, tiny_corpus[0], "", languages=LANGUAGES)
    common = PipelineConfig().override(
        features=dict(representations=CNN_REPRESENTATIONS),
        data=dict(bucket=BUCKET, prefix="", languages=LANGUAGES, segment_seconds=1.5, eval_fraction=0.25))

    def beam(args):
        return common.override(runtime=dict(direct_args=(), beam_args=args))

    with BeamWorkers() as workers_one:
        one = run_ingestion_and_transform(str(tmp_path_factory.mktemp("in_memory")), beam(IN_MEMORY))
    with BeamWorkers() as workers_two:
        two = run_ingestion_and_transform(str(tmp_path_factory.mktemp("two_procs")), beam(TWO_PROCESSES))
    one.workers, two.workers = workers_one, workers_two
    return one, two


def test_the_two_process_run_really_ran_two_worker_processes(runs):
    """Otherwise the comparisons below would compare an in-memory run with itself."""
    one, two = runs
    assert one.workers.pids == set()                       # in memory: no worker process
    assert two.workers.most_at_once >= 2, sorted(two.workers.pids)


def by_segment(records):
    return {(r["source_key"][0], r["segment_index"][0]): r for r in records}


def test_ingestion_writes_the_same_examples(runs):
    one, two = (read_records(run.examples_uri) for run in runs)
    assert set(one) == set(two) == {"train", "eval"}
    for split in one:
        a, b = by_segment(one[split]), by_segment(two[split])
        assert len(a) == len(one[split]) > 0 and set(a) == set(b)
        for key, record in a.items():
            assert record["label"] == b[key]["label"] and record["speaker_id"] == b[key]["speaker_id"]
            np.testing.assert_array_equal(record["waveform"], b[key]["waveform"])
    assert runs[0].audio_seconds == pytest.approx(runs[1].audio_seconds)


def test_transform_writes_the_same_features(runs):
    one, two = (read_records(run.transformed_uri) for run in runs)
    assert set(one) == set(two) == {"train", "eval"}
    for split in one:
        a, b = one[split], two[split]
        assert len(a) == len(b) > 0
        # Transformed records carry no key and arrive in any order: pair each with its nearest
        # record of the same label; analyzers combine partial sums in a different order across
        # workers, so features may differ in the last bits, never more.
        unmatched = set(range(len(b)))
        for record in a:
            candidates = [j for j in unmatched if b[j][LABEL_XF] == record[LABEL_XF]]
            assert candidates, f"{split}: no record with label {record[LABEL_XF]} left"
            distance = [np.max(np.abs(np.concatenate([record[LOG_MEL_XF] - b[j][LOG_MEL_XF],
                                                      record[MFCC_XF] - b[j][MFCC_XF]]))) for j in candidates]
            best = int(np.argmin(distance))
            assert distance[best] < 1e-4, f"{split}: closest record differs by {distance[best]}"
            unmatched.remove(candidates[best])
        assert not unmatched
