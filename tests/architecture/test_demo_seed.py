"""The demo's management cluster seed makes the status checks green and gives the wizard legacy VMs to read."""

from __future__ import annotations

from architecture import checks
from devstack import management_seed
from devstack.kubeapi.pytest_plugin import kube_client, kubeapi  # noqa: F401


def test_seeded_management_cluster_is_healthy(kubeapi, kube_client):  # noqa: F811
    kubeapi.load_objects(management_seed.objects())
    controller = checks.check_capmox_controller(kube_client, 5)
    releases = checks.check_helmreleases(kube_client, 5)
    assert controller.status == checks.OK, controller.summary
    assert releases.status == checks.OK, releases.summary
    vms = kubeapi.list_objects("kubevirt.io/v1", "VirtualMachine", "legacy")
    assert sorted(vm["metadata"]["name"] for vm in vms) == ["shop-db", "shop-web"]


def test_seed_file_round_trips(tmp_path, kubeapi):  # noqa: F811
    path = management_seed.write(tmp_path / "seed.yaml")
    stored = kubeapi.load_manifests(path)
    assert len(stored) == len(management_seed.objects())
