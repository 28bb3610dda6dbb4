"""pytest fixtures for the fake kube-apiserver.

Opt in from the rootdir conftest.py with ``pytest_plugins = ["devstack.kubeapi.pytest_plugin"]`` or, in a
sub-folder conftest (where pytest ignores ``pytest_plugins``), import the fixtures:
``from devstack.kubeapi.pytest_plugin import kubeapi, kube_client``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .paths import shared_crd_dir, shared_dir
from .server import FakeKubeAPI

__all__ = ["kube_client", "kubeapi", "kubeapi_module", "shared_crd_dir", "shared_dir"]


def _new_server() -> FakeKubeAPI:
    crd_dir = shared_crd_dir()
    return FakeKubeAPI(crd_dirs=[crd_dir] if crd_dir else None).start()


@pytest.fixture
def kubeapi() -> Iterator[FakeKubeAPI]:
    """A fresh server per test: upstream CRDs from ../shared/crds when present, else the built-ins.

    ``kubeapi.crd_dirs`` is empty when only the built-in permissive CRDs are served.
    """
    server = _new_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def kubeapi_module() -> Iterator[FakeKubeAPI]:
    """One server shared by the tests of a module (state leaks between them: use distinct names)."""
    server = _new_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kube_client(kubeapi: FakeKubeAPI):
    """A ``kubernetes.client.ApiClient`` for the ``kubeapi`` server."""
    api_client = kubeapi.client()
    try:
        yield api_client
    finally:
        api_client.close()
