"""Where the read-only reference material (``../shared``) lives."""

from __future__ import annotations

import os
from pathlib import Path

import devstack

SHARED_ENV = "PORTAL_SHARED_DIR"


def shared_dir() -> Path | None:
    """``$PORTAL_SHARED_DIR`` if set, else the ``shared`` folder next to the repository root."""
    configured = os.environ.get(SHARED_ENV)
    repo_root = Path(devstack.__file__).resolve().parents[1]
    candidate = Path(configured) if configured else repo_root.parent / "shared"
    return candidate if candidate.is_dir() else None


def shared_crd_dir() -> Path | None:
    base = shared_dir()
    crds = base / "crds" if base else None
    return crds if crds and crds.is_dir() else None
