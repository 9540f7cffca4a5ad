"""The declarative YAML protocol: schema and loading."""

from robusteval.protocol.loader import load_protocol, protocol_sha256
from robusteval.protocol.schema import (
    DatasetSpec,
    ExecutionSpec,
    MetricsSpec,
    ModelSpec,
    Protocol,
    ReportSpec,
    ShiftSpec,
    ShiftStep,
    StatisticsSpec,
)

__all__ = [
    "DatasetSpec",
    "ExecutionSpec",
    "MetricsSpec",
    "ModelSpec",
    "Protocol",
    "ReportSpec",
    "ShiftSpec",
    "ShiftStep",
    "StatisticsSpec",
    "load_protocol",
    "protocol_sha256",
]
