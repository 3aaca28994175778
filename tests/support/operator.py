"""The operator as a real process (shared with bench/ and the demo: hack/operator_process.py)."""

from operator_process import (
    GROUP,
    OPERATOR_NAMESPACE,
    PLURAL,
    VERSION,
    OperatorProcess,
    http_ok,
    incident_body,
    start_operator,
)

__all__ = [
    "GROUP",
    "OPERATOR_NAMESPACE",
    "PLURAL",
    "VERSION",
    "OperatorProcess",
    "http_ok",
    "incident_body",
    "start_operator",
]
