"""Development-only fake Kubernetes API server (never imported by production code)."""

from .server import FakeKubeAPI

__all__ = ["FakeKubeAPI"]
