"""Fixtures for the fake kube-apiserver tests.

``pytest_plugins`` is only honoured in the rootdir conftest, so this sub-folder imports the fixtures.
"""

from pathlib import Path

import pytest
from kubernetes import client

from devstack.kubeapi.pytest_plugin import kube_client, kubeapi  # noqa: F401 - fixtures

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"


@pytest.fixture
def shared_crds() -> Path:
    crds = SHARED / "crds"
    if not crds.is_dir():
        pytest.skip(f"../shared not found: {crds} (upstream CRDs needed for schema checks)")
    return crds.resolve()


@pytest.fixture
def core(kube_client) -> client.CoreV1Api:  # noqa: F811 - fixture parameter
    return client.CoreV1Api(kube_client)


@pytest.fixture
def custom(kube_client) -> client.CustomObjectsApi:  # noqa: F811 - fixture parameter
    return client.CustomObjectsApi(kube_client)


@pytest.fixture
def dynamic(kubeapi):  # noqa: F811 - fixture parameter
    return kubeapi.dynamic_client()
