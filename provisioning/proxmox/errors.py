"""Proxmox failures sorted into "try again" and "give up", each with a plain-words message.

`message_user` is safe to show a tenant; `message_admin` carries the full Proxmox detail (status, path, fields).
Neither ever contains the API token: proxmoxer sends it in a header, and we never format headers.
"""

from __future__ import annotations

import re

import requests
from proxmoxer.core import AuthenticationError, ResourceException


class ProxmoxError(Exception):
    """Base of every error the client layer raises."""

    transient = False

    def __init__(self, message_user: str, message_admin: str = "", *, code: str = "error", status: int | None = None):
        super().__init__(message_admin or message_user)
        self.message_user = message_user
        self.message_admin = message_admin or message_user
        self.code = code
        self.status = status


class TransientError(ProxmoxError):
    """Worth retrying with backoff: the same call may succeed later."""

    transient = True


class PermanentError(ProxmoxError):
    """Retrying the same call cannot help: fail the step and tell the user why."""


class NotFound(PermanentError):
    """The VM (or volume) does not exist. Idempotent checks catch this to mean "not there yet"."""


class TaskFailed(Exception):
    """A Proxmox task ended with an exit status other than OK (raw; `classify` turns it into one of the above)."""

    def __init__(self, upid: str, exitstatus: str, log_tail: str = ""):
        super().__init__(exitstatus)
        self.upid = upid
        self.exitstatus = exitstatus
        self.log_tail = log_tail


# Patterns in Proxmox's own text, first match wins: (regex, transient, code, plain words).
_KNOWN: list[tuple[re.Pattern, bool, str, str]] = [
    (
        re.compile(r"can't lock file .* got timeout", re.I),
        True,
        "config_lock",
        "Proxmox is busy with another operation on this VM.",
    ),
    (
        re.compile(r"VM is locked \((?P<lock>[^)]*)\)", re.I),
        True,
        "locked",
        "The VM is locked by another Proxmox operation ({lock}).",
    ),
    (re.compile(r"no quorum", re.I), True, "no_quorum", "The Proxmox cluster has lost quorum."),
    (
        re.compile(r"No route to host|Errors during connection establishment", re.I),
        True,
        "node_offline",
        "A Proxmox node is unreachable (offline).",
    ),
    (re.compile(r"got timeout|timed out", re.I), True, "timeout", "Proxmox timed out waiting for an operation."),
    (
        re.compile(r"No space left on device", re.I),
        False,
        "no_space",
        "The storage has no space left for the VM's disk.",
    ),
    (
        re.compile(r"storage '(?P<storage>[^']+)' is not online", re.I),
        False,
        "storage_offline",
        "The storage '{storage}' is not online.",
    ),
    (
        re.compile(r"Configuration file '[^']*' does not exist", re.I),
        False,
        "not_found",
        "The VM does not exist in Proxmox.",
    ),
    (
        re.compile(r"no such cluster node '(?P<node>[^']+)'", re.I),
        False,
        "no_node",
        "The Proxmox node '{node}' does not exist.",
    ),
    (
        re.compile(r"storage '(?P<storage>[^']+)' does not exist", re.I),
        False,
        "no_storage",
        "The storage '{storage}' does not exist.",
    ),
    (
        re.compile(r"can't clone to non-shared storage '(?P<storage>[^']+)'", re.I),
        False,
        "non_shared",
        "The storage '{storage}' is local to one node, so the VM cannot be cloned onto another node.",
    ),
    (re.compile(r"already exists", re.I), False, "exists", "A VM with this ID already exists."),
    (re.compile(r"QEMU exited with code", re.I), False, "qemu_exit", "The VM failed to start (QEMU exited)."),
]


def _describe(text: str) -> tuple[bool, str, str] | None:
    for pattern, transient, code, words in _KNOWN:
        match = pattern.search(text or "")
        if match:
            return transient, code, words.format(**match.groupdict())
    return None


def _field_errors(errors) -> str:
    if isinstance(errors, dict):
        parts = []
        for field, msg in sorted(errors.items()):
            if isinstance(msg, bytes):
                msg = msg.decode("utf-8", "replace")[:200]
            parts.append(f"{field}: {str(msg).strip()}")
        return "; ".join(parts)
    return str(errors or "")


def classify(exc: BaseException, *, action: str = "") -> ProxmoxError:
    """Turn any exception from proxmoxer/requests (or a TaskFailed) into TransientError or PermanentError."""
    if isinstance(exc, ProxmoxError):
        return exc
    where = f" during {action}" if action else ""
    if isinstance(exc, TaskFailed):
        text = exc.exitstatus
        admin = f"TASK ERROR{where}: {text} (task {exc.upid})"
        if exc.log_tail:
            admin += f"\n{exc.log_tail}"
        known = _describe(text)
        if known:
            transient, code, words = known
            cls = TransientError if transient else PermanentError
            return cls(words, admin, code=code)
        return PermanentError(f"Proxmox task failed: {text}", admin, code="task_error")
    if isinstance(exc, requests.exceptions.SSLError):
        return PermanentError(
            "The Proxmox endpoint's TLS certificate could not be verified.",
            f"TLS verification failed{where}: {exc}",
            code="tls",
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransientError("Proxmox did not answer in time.", f"timeout{where}: {exc}", code="timeout")
    if isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return TransientError("Could not connect to Proxmox.", f"connection error{where}: {exc}", code="connection")
    if isinstance(exc, AuthenticationError):
        return PermanentError("Proxmox refused the portal's credentials.", f"auth{where}: {exc}", code="auth")
    if isinstance(exc, ResourceException):
        return _classify_http(exc, where)
    return PermanentError(f"Unexpected error talking to Proxmox: {exc}", f"{type(exc).__name__}{where}: {exc!r}")


def _classify_http(exc: ResourceException, where: str) -> ProxmoxError:
    status = int(exc.status_code or 0)
    content = str(exc.content or "").strip()
    fields = _field_errors(exc.errors)
    admin = f"HTTP {status}{where}: {content}" + (f" [{fields}]" if fields else "")
    known = _describe(content)
    if status == 401:
        return PermanentError("Proxmox refused the portal's API token.", admin, code="auth", status=status)
    if status == 403:
        return PermanentError(
            f"The portal is not allowed to do this in Proxmox: {content}", admin, code="forbidden", status=status
        )
    if 400 <= status < 500:
        detail = fields or content
        return PermanentError(f"Proxmox rejected the request: {detail}", admin, code="invalid", status=status)
    if known:
        transient, code, words = known
        if code == "not_found":
            return NotFound(words, admin, code=code, status=status)
        cls = TransientError if transient else PermanentError
        return cls(words, admin, code=code, status=status)
    if status == 501:
        return PermanentError(f"Proxmox does not support this: {content}", admin, code="unsupported", status=status)
    # Any other 5xx (proxy errors, a busy pveproxy, a 595 from a node) may pass.
    return TransientError(
        f"Proxmox answered with an error: {content or status}", admin, code="server_error", status=status
    )
