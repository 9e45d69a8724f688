"""DataValidator (clip-level anomalies and corpus checks) and AnomalyGate (--halt-on-anomalies)."""
from components.data_validator.component import AnomalyGate, DataValidationReport, DataValidator

__all__ = ["AnomalyGate", "DataValidationReport", "DataValidator"]
