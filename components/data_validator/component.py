"""TFX component definitions of the data validation step and of the gate before Transform."""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.data_validator import executor


class DataValidationReport(types.Artifact):
    """data_validation.json: every anomaly with the clip keys involved (checks.py)."""

    TYPE_NAME = "langid.DataValidationReport"  # <namespace>.<Name>: what the KFP v2 compiler accepts


class DataValidatorSpec(types.ComponentSpec):
    PARAMETERS = {
        "min_speakers": ExecutionParameter(type=int),
        "max_imbalance": ExecutionParameter(type=float),
        "code_version": ExecutionParameter(type=str, optional=True),
    }
    INPUTS = {
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        "schema": ChannelParameter(type=standard_artifacts.Schema),
        "anomalies": ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
    OUTPUTS = {"report": ChannelParameter(type=DataValidationReport)}


class DataValidator(base_component.BaseComponent):
    """Names the clips behind ExampleValidator's anomalies and runs the corpus checks.

    Never fails on anomalies (it records them, with counts as custom properties "errors" and
    "warnings"); AnomalyGate is what stops a run.
    """

    SPEC_CLASS = DataValidatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self, examples, schema, anomalies, min_speakers: int, max_imbalance: float, code_version: str = ""):
        super().__init__(spec=DataValidatorSpec(
            examples=examples, schema=schema, anomalies=anomalies, min_speakers=min_speakers,
            max_imbalance=max_imbalance, code_version=code_version,
            report=types.Channel(type=DataValidationReport)))


class AnomalyGateSpec(types.ComponentSpec):
    PARAMETERS = {}
    INPUTS = {"report": ChannelParameter(type=DataValidationReport)}
    OUTPUTS = {}


class AnomalyGate(base_component.BaseComponent):
    """Fails, with the anomalies in its message, when the report holds errors; Transform waits on it."""

    SPEC_CLASS = AnomalyGateSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.GateExecutor)

    def __init__(self, report):
        super().__init__(spec=AnomalyGateSpec(report=report))
