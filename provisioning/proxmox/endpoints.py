"""Clients for configured endpoints, one per endpoint and thread so keep-alive connections are reused."""

from __future__ import annotations

import hashlib
import threading

from ..conf import setting as _setting
from .client import ProxmoxClient
from .errors import PermanentError

_local = threading.local()


def client_for(endpoint, *, fresh: bool = False) -> ProxmoxClient:
    """A ProxmoxClient for a portal ProxmoxEndpoint. The secret is read at this moment and never stored elsewhere."""
    cache = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    try:
        secret = endpoint.token_secret()  # read at every use, so a rotated secret takes effect at once
    except Exception as exc:  # a ValidationError or an unreadable secrets file
        raise PermanentError(
            "The Proxmox endpoint is not configured correctly (no token secret).",
            f"endpoint {endpoint.name}: cannot read the token secret: {type(exc).__name__}",
            code="config",
        ) from None
    fingerprint = hashlib.sha256(secret.encode()).hexdigest()
    key = (endpoint.pk, endpoint.api_url, endpoint.token_id, str(endpoint.verify), fingerprint)
    if not fresh and key in cache:
        return cache[key]
    client = ProxmoxClient(
        endpoint.api_url,
        endpoint.token_id,
        secret,
        verify=endpoint.verify,
        timeout=_setting("PROVISIONING_HTTP_TIMEOUT", 15),
        poll_interval=_setting("PROVISIONING_TASK_POLL_INTERVAL", 0.5),
        name=endpoint.name,
    )
    for old in [k for k in cache if k[0] == endpoint.pk]:  # the endpoint or its secret changed
        del cache[old]
    cache[key] = client
    return client


def forget_clients() -> None:
    """Drop this thread's cached clients (tests start a new fake per test)."""
    _local.clients = {}
