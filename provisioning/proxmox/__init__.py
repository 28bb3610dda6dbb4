"""Client layer for Proxmox VE: connection, error classification, operations, NoCloud seed ISOs."""

from .client import ProxmoxClient, TaskResult, node_of_upid
from .errors import NotFound, PermanentError, ProxmoxError, TaskFailed, TransientError, classify

__all__ = [
    "NotFound",
    "PermanentError",
    "ProxmoxClient",
    "ProxmoxError",
    "TaskFailed",
    "TaskResult",
    "TransientError",
    "classify",
    "node_of_upid",
]
