"""End to end without a real management cluster: apply -> fake CAPI/Kamaji/capmox controllers -> VMs in fakepve."""

from __future__ import annotations

import ipaddress

import yaml
from kubernetes import client as k8s

from provisioning.capi import apply
from provisioning.capi.kubeconfig import fetch_kubeconfig
from provisioning.capi.reconciler import FakeCapiReconciler, expand_addresses
from provisioning.capi.spec import CloneSource
from provisioning.capi.status import read_status

from .conftest import make_group, make_spec

KEY = ("tenant-acme", "demo")


def cluster_vms(pve, prefix="demo-"):
    return {vm.vmid: vm for vm in pve.vms if str(vm.name or "").startswith(prefix)}


def converge(reconciler, api_client, *, until, max_passes=20):
    """Run passes until `until(status)` holds; returns the status and every pipeline message seen on the way."""
    seen: list[str] = []
    status = None
    for _ in range(max_passes):
        reconciler.reconcile_once()
        status = read_status(api_client).get(KEY)
        if status is not None:
            seen += [m for step in status.pipeline for m in step.messages]
        if until(status):
            return status, seen
    raise AssertionError(f"did not converge; last status: {status}")


def ready(status):
    return status is not None and status.overall == "ready"


def bring_up(kube_client, pve_credentials, spec):
    apply.apply_cluster(spec, kube_client, pve_credentials)
    reconciler = FakeCapiReconciler(kube_client)
    status, seen = converge(reconciler, kube_client, until=ready)
    return reconciler, status, seen


def test_cluster_comes_up_with_vms_in_proxmox(kubeapi, kube_client, pve, pve_credentials):
    spec = make_spec()
    reconciler, status, seen = bring_up(kube_client, pve_credentials, spec)

    joined = "\n".join(seen)
    assert "MissingControlPlaneEndpoint" in joined
    assert "Cloning" in joined and "WaitingForCloudInit" in joined
    assert [step.state for step in status.pipeline] == ["ready", "ready", "ready"]
    assert status.control_plane_ready and status.control_plane_version == "v1.33.4"
    assert status.endpoint.startswith("192.0.2.") and status.endpoint.endswith(":6443")

    vms = cluster_vms(pve)
    assert len(vms) == 2
    assert all(100000 <= vmid <= 100099 for vmid in vms)
    for vm in vms.values():
        assert vm.status == "running"
        assert int(vm.config["cores"]) == 2 and int(vm.config["memory"]) == 4096
        assert "bridge=vmbr0" in vm.config["net0"] and "tag=120" in vm.config["net0"]
        assert {"cluster-demo", "tenant-acme", "k8s-v1.33.4"} <= set(vm.config["tags"].split(";"))
    assert {m.name for m in status.machines} == {vm.name for vm in vms.values()}
    pool = list(expand_addresses(["10.20.0.100-10.20.0.150"], "10.20.0.1"))
    addresses = [a for m in status.machines for a in m.addresses]
    assert len(set(addresses)) == 2 and all(a in pool for a in addresses)
    assert {m.vmid for m in status.machines} == set(vms)
    assert all(m.proxmox_node == "pve1" and m.provisioned_reason == "Provisioned" for m in status.machines)

    kubeconfig = yaml.safe_load(fetch_kubeconfig(kube_client, "tenant-acme", "demo"))
    assert kubeconfig["clusters"][0]["cluster"]["server"] == f"https://{status.endpoint}"

    # Nothing left to do: another pass changes nothing.
    assert reconciler.reconcile_once() == {}


def test_scale_up_and_down(kubeapi, kube_client, pve, pve_credentials):
    reconciler, _, _ = bring_up(kube_client, pve_credentials, make_spec())
    apply.apply_cluster(make_spec(node_groups=(make_group(replicas=4),)), kube_client, pve_credentials)
    status, _ = converge(reconciler, kube_client, until=lambda s: ready(s) and len(s.machines) == 4)
    assert len(cluster_vms(pve)) == 4 and status.node_groups[0].ready == 4

    apply.apply_cluster(make_spec(node_groups=(make_group(replicas=1),)), kube_client, pve_credentials)
    status, _ = converge(reconciler, kube_client, until=lambda s: ready(s) and len(s.machines) == 1)
    assert len(cluster_vms(pve)) == 1
    assert set(cluster_vms(pve)) == {status.machines[0].vmid}


def test_version_change_rolls_workers_to_a_new_template(kubeapi, kube_client, pve, pve_credentials):
    reconciler, before, _ = bring_up(kube_client, pve_credentials, make_spec())
    old_vmids = {m.vmid for m in before.machines}
    apply.apply_cluster(make_spec(kubernetes_version="v1.34.1"), kube_client, pve_credentials)

    def rolled(status):
        return ready(status) and len(status.machines) == 2 and not ({m.vmid for m in status.machines} & old_vmids)

    status, _ = converge(reconciler, kube_client, until=rolled)
    assert status.control_plane_version == "v1.34.1"
    vms = cluster_vms(pve)
    assert set(vms) == {m.vmid for m in status.machines}
    assert all("k8s-v1.34.1" in vm.config["tags"] for vm in vms.values())


def test_delete_waits_for_machines_then_cleans_up(kubeapi, kube_client, pve, pve_credentials):
    reconciler, _, _ = bring_up(kube_client, pve_credentials, make_spec())
    assert apply.delete_cluster(kube_client, "tenant-acme", "demo") is True
    status = read_status(kube_client)[KEY]
    assert status.overall == "deleting"  # the finalizer holds the Cluster until the machines are gone
    assert len(cluster_vms(pve)) == 2

    converge(reconciler, kube_client, until=lambda s: s is None or not s.exists)
    assert cluster_vms(pve) == {}
    apply.cleanup_leftovers(kube_client, "tenant-acme", "demo")
    assert read_status(kube_client) == {}
    assert fetch_kubeconfig(kube_client, "tenant-acme", "demo") is None


def test_template_selector_finds_the_tagged_template(kubeapi, kube_client, pve, pve_credentials):
    group = make_group(replicas=1, source=CloneSource(match_tags=("ubuntu", "cloudinit")))
    _, status, _ = bring_up(kube_client, pve_credentials, make_spec(node_groups=(group,)))
    clones = [r[1] for r in pve.requests if r[0] == "POST" and r[1].endswith("/clone")]
    assert len(clones) == 1 and clones[0].endswith("/nodes/pve1/qemu/9000/clone")  # tags cloudinit;ubuntu = 9000
    assert status.machines[0].proxmox_node == "pve1"
    assert len(cluster_vms(pve)) == 1


def test_exhausted_vmid_range_is_a_terminal_vm_failure(kubeapi, kube_client, pve, pve_credentials):
    spec = make_spec(vmid_range=(9000, 9000), node_groups=(make_group(replicas=1),))  # 9000 is the template
    apply.apply_cluster(spec, kube_client, pve_credentials)
    status, _ = converge(
        FakeCapiReconciler(kube_client), kube_client, until=lambda s: s is not None and s.overall == "failed"
    )
    workers = status.pipeline[2]
    assert workers.state == "failed"
    assert any("VMProvisionFailed" in m and "No free vmid" in m for m in workers.messages)
    assert cluster_vms(pve) == {}


def test_addresses_skip_the_gateway():
    addresses = list(expand_addresses(["10.0.0.1-10.0.0.3", "10.0.1.0/30", "10.0.2.9"], "10.0.0.2"))
    assert addresses == ["10.0.0.1", "10.0.0.3", "10.0.1.1", "10.0.1.2", "10.0.2.9"]
    assert all(ipaddress.ip_address(a) for a in addresses)


def test_command_line_pass_uses_the_kubeconfig(kubeapi, kube_client, pve, pve_credentials, tmp_path):
    from provisioning.capi.reconciler import main

    apply.apply_cluster(make_spec(), kube_client, pve_credentials)
    kubeconfig = kubeapi.write_kubeconfig(tmp_path / "kubeconfig")
    main(["--kubeconfig", str(kubeconfig)])  # one pass
    control_plane = kubeapi.get_object(
        "controlplane.cluster.x-k8s.io/v1alpha2", "KamajiControlPlane", "demo", "tenant-acme"
    )
    assert control_plane["status"]["conditions"][0]["reason"] == "Deploying"


def test_old_templates_are_pruned_after_the_rollout_only(kubeapi, kube_client, pve, pve_credentials):
    from devstack.kubeapi.crds import minimal_crd
    from provisioning.capi import kinds

    def template_names():
        api = k8s.CustomObjectsApi(kube_client)
        found = []
        for kind in (kinds.PROXMOX_MACHINE_TEMPLATE, kinds.KUBEADM_CONFIG_TEMPLATE):
            items = api.list_namespaced_custom_object(kind.group, kind.version, "tenant-acme", kind.plural)["items"]
            found += [i["metadata"]["name"] for i in items]
        return sorted(found)

    reconciler, _, _ = bring_up(kube_client, pve_credentials, make_spec())
    old = template_names()
    apply.apply_cluster(make_spec(node_groups=(make_group(cores=4),)), kube_client, pve_credentials)
    assert apply.prune_templates(kube_client, "tenant-acme", "demo") == []  # MachineSet kind not served: keep all
    kubeapi.add_crd(minimal_crd("cluster.x-k8s.io", "v1beta2", "MachineSet", "machinesets"))
    # Mid-rollout the old machine template is still in use by the running ProxmoxMachines.
    in_use = apply.prune_templates(kube_client, "tenant-acme", "demo")
    assert all(not name.startswith("ProxmoxMachineTemplate/") for name in in_use)

    converge(reconciler, kube_client, until=lambda s: ready(s) and all(m.vm_status == "ready" for m in s.machines))
    status = read_status(kube_client)[KEY]
    assert {int(pve.vm(m.vmid).config["cores"]) for m in status.machines} == {4}
    pruned = apply.prune_templates(kube_client, "tenant-acme", "demo")
    md = kubeapi.get_object("cluster.x-k8s.io/v1beta2", "MachineDeployment", "demo-md0", "tenant-acme")
    wanted = md["spec"]["template"]["spec"]
    in_use = {wanted["infrastructureRef"]["name"], wanted["bootstrap"]["configRef"]["name"]}
    assert set(template_names()) == in_use
    old_machine_template = next(n for n in old if n not in in_use)  # cores changed: only the PMT was replaced
    assert pruned == [f"ProxmoxMachineTemplate/{old_machine_template}"]
