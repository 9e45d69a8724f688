"""Executors of DataValidator and AnomalyGate."""
from __future__ import annotations

import json
import logging
import os

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components.data_validator import checks

REPORT_NAME = "data_validation.json"


class AnomaliesFound(RuntimeError):
    """Raised by AnomalyGate: the data has errors and the run was asked to halt on them."""


def read_report(uri: str) -> dict:
    with tf.io.gfile.GFile(os.path.join(uri, REPORT_NAME)) as f:
        return json.load(f)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        examples = artifact_utils.get_single_instance(input_dict["examples"])
        schema_uri = artifact_utils.get_single_instance(input_dict["schema"]).uri
        anomalies = artifact_utils.get_single_instance(input_dict["anomalies"])
        report_artifact = artifact_utils.get_single_instance(output_dict["report"])
        schema_file = tf.io.gfile.glob(os.path.join(schema_uri, "*.pbtxt"))[0]
        with tf.io.gfile.GFile(schema_file) as f:
            from google.protobuf import text_format
            from tensorflow_metadata.proto.v0 import schema_pb2
            schema = text_format.Parse(f.read(), schema_pb2.Schema())
        report = checks.validate(
            checks.read_clip_records(examples.uri), schema,
            checks.tfdv_anomalies(anomalies.uri),
            min_speakers=int(exec_properties["min_speakers"]),
            max_imbalance=float(exec_properties["max_imbalance"]))
        tf.io.gfile.makedirs(report_artifact.uri)
        path = os.path.join(report_artifact.uri, REPORT_NAME)
        with tf.io.gfile.GFile(path + ".tmp", "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        tf.io.gfile.rename(path + ".tmp", path, overwrite=True)
        report_artifact.set_int_custom_property("errors", report["errors"])
        report_artifact.set_int_custom_property("warnings", report["warnings"])
        log = logging.warning if report["anomalies"] else logging.info
        for line in checks.format_report(report):
            log("DataValidator: %s", line)


class GateExecutor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        report = read_report(artifact_utils.get_single_instance(input_dict["report"]).uri)
        if report["errors"]:
            raise AnomaliesFound(
                f"--halt-on-anomalies: data validation found {report['errors']} error(s); stopping "
                "before Transform.\n" + "\n".join(checks.format_report(report)))
