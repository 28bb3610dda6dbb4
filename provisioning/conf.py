"""Provisioning knobs: a Django setting wins, else an environment variable of the same name, else the default.

PROVISIONING_HTTP_TIMEOUT (15 s), PROVISIONING_TASK_POLL_INTERVAL (0.5 s), PROVISIONING_TASK_TIMEOUT (900 s),
PROVISIONING_MAX_ATTEMPTS (6), PROVISIONING_RETRY_BASE_SECONDS (2), PROVISIONING_RETRY_CAP_SECONDS (60),
PROVISIONING_START_TIMEOUT (120 s), PROVISIONING_AGENT_WAIT (30 s), PROVISIONING_SHUTDOWN_TIMEOUT (120 s),
PROVISIONING_MEMORY_ADJUSTMENT (100 %, 0 = no memory check), PROVISIONING_KEEP_FAILED_VMS (False),
PROVISIONING_STALL_SECONDS (900 s).
"""

from __future__ import annotations

import os

from django.conf import settings


def setting(name: str, default):
    value = getattr(settings, name, None)
    if value is not None:
        return value
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, (int, float)):
        return float(raw) if "." in raw or isinstance(default, float) else int(raw)
    return raw
