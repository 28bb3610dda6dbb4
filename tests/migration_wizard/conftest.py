"""Fixtures: a small multi-VM KubeVirt export (one VM with a Critical concern) and the fake Kubernetes API."""

from __future__ import annotations

import pytest
import yaml

from devstack.kubeapi.pytest_plugin import kube_client, kubeapi  # noqa: F401

from .manifests import multi_vm_docs


@pytest.fixture
def multi_vm_yaml() -> str:
    return yaml.safe_dump_all(multi_vm_docs(), sort_keys=False)
