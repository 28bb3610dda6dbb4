"""A bounded proxmoxer wrapper: API-token auth over verified HTTPS, classified errors, task waiting, call counts."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from proxmoxer import ProxmoxAPI

from .errors import TaskFailed, TransientError, classify

log = logging.getLogger(__name__)

# Reads that only watch a task or a VM come along: counted apart from the calls that change something.
POLL_SUFFIXES = ("/status", "/log", "/status/current")


@dataclass(frozen=True)
class TaskResult:
    upid: str
    node: str
    exitstatus: str
    started: float | None
    ended: float | None


def node_of_upid(upid: str) -> str:
    """UPID:pve1:0000ABCD:... -> pve1."""
    parts = str(upid).split(":")
    return parts[1] if len(parts) > 2 and parts[0] == "UPID" else ""


class ProxmoxClient:
    """One endpoint. Every call has a timeout; every failure is a TransientError or a PermanentError."""

    # Calls by kind across all clients of this process (the benchmark reads them).
    totals: Counter[str] = Counter()
    _totals_lock = threading.Lock()

    def __init__(
        self,
        api_url: str,
        token_id: str,
        token_secret: str,
        *,
        verify: bool | str = True,
        timeout: float = 15,
        poll_interval: float = 0.5,
        name: str = "",
    ):
        parts = urlsplit(api_url if "://" in api_url else f"https://{api_url}")
        if parts.scheme != "https":
            raise ValueError("Proxmox endpoints are reached over HTTPS only")
        user, sep, token_name = token_id.partition("!")
        if not sep or "@" not in user or not token_name:
            raise ValueError("token id must look like user@realm!name")
        self.name = name or parts.hostname or ""
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.calls: Counter[str] = Counter()
        self._api = ProxmoxAPI(
            parts.hostname,
            port=parts.port or 8006,
            user=user,
            token_name=token_name,
            token_value=token_secret,
            verify_ssl=verify,
            timeout=timeout,
            service="PVE",
        )

    def __repr__(self) -> str:  # never show the secret
        return f"<ProxmoxClient {self.name}>"

    # ------------------------------------------------------------------ raw calls
    def request(self, method: str, path: str, **params):
        path = path.strip("/")
        kind = "poll" if method == "GET" and path.endswith(POLL_SUFFIXES) else method.lower()
        self.calls[kind] += 1
        with self._totals_lock:
            ProxmoxClient.totals[kind] += 1
        resource = self._api(path)
        try:
            if method == "GET":
                return resource.get(**params)
            if method == "POST":
                return resource.post(**params)
            if method == "PUT":
                return resource.put(**params)
            if method == "DELETE":
                return resource.delete(**params)
        except Exception as exc:
            raise classify(exc, action=f"{method} /{path}") from exc
        raise ValueError(f"unsupported method {method}")

    def get(self, path: str, **params):
        return self.request("GET", path, **params)

    def post(self, path: str, **params):
        return self.request("POST", path, **params)

    def put(self, path: str, **params):
        return self.request("PUT", path, **params)

    def delete(self, path: str, **params):
        return self.request("DELETE", path, **params)

    @property
    def mutating_calls(self) -> int:
        return self.calls["post"] + self.calls["put"] + self.calls["delete"]

    @property
    def polling_calls(self) -> int:
        return self.calls["poll"]

    # ------------------------------------------------------------------ tasks
    def task_status(self, upid: str, node: str | None = None) -> dict:
        node = node or node_of_upid(upid)
        return self.get(f"nodes/{node}/tasks/{upid}/status") or {}

    def task_log(self, upid: str, node: str | None = None, start: int = 0, limit: int = 500) -> list[str]:
        node = node or node_of_upid(upid)
        lines = self.get(f"nodes/{node}/tasks/{upid}/log", start=start, limit=limit) or []
        return [str(item.get("t", "")) for item in lines]

    def wait_task(self, upid: str | None, *, node: str | None = None, timeout: float = 600) -> TaskResult | None:
        """Poll until the task stops; a classified error if it did not end OK, TransientError on timeout."""
        if not upid:  # some PVE calls finish synchronously and return null
            return None
        node = node or node_of_upid(upid)
        deadline = time.monotonic() + timeout
        interval = self.poll_interval
        while True:
            status = self.task_status(upid, node)
            if status.get("status") == "stopped":
                exitstatus = str(status.get("exitstatus", ""))
                if exitstatus != "OK" and not exitstatus.startswith("WARNINGS"):
                    tail = "\n".join(self._safe_log_tail(upid, node))
                    raise classify(TaskFailed(upid, exitstatus, tail), action="task")
                return TaskResult(upid, node, exitstatus, status.get("starttime"), status.get("endtime"))
            if time.monotonic() >= deadline:
                raise TransientError(
                    "A Proxmox operation is taking longer than expected.",
                    f"task {upid} still running after {timeout:.0f}s",
                    code="task_timeout",
                )
            time.sleep(interval)
            interval = min(interval * 1.5, 5.0)

    def _safe_log_tail(self, upid: str, node: str, lines: int = 20) -> list[str]:
        try:
            return self.task_log(upid, node)[-lines:]
        except Exception:  # the log is a nicety; never mask the real failure
            log.debug("could not read log of %s", upid, exc_info=True)
            return []
