"""Status mapping from realistic CAPI/Kamaji/capmox condition sets (pure: no API server)."""

from __future__ import annotations

from provisioning.capi import render
from provisioning.capi.status import ClusterStatus, build_statuses

from .conftest import make_spec

T0 = "2026-11-26T10:00:00Z"


def cond(ctype, status, reason, message=""):
    return {"type": ctype, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0}


def rendered(**spec_overrides):
    """The rendered objects of a cluster, as the list call returns them (no status yet)."""
    return {o["kind"]: o for o in render.render_cluster(make_spec(**spec_overrides))}


def machine_pair(name, *, pm_status, machine_status=None, vmid=100000):
    labels = {
        render.MANAGED_BY: render.MANAGER,
        render.CAPI_CLUSTER_LABEL: "demo",
        render.CAPI_DEPLOYMENT_LABEL: "demo-md0",
        render.LABEL_NODE_GROUP: "md0",
    }
    meta = {"name": name, "namespace": "tenant-acme", "labels": labels}
    machine = {
        "kind": "Machine",
        "metadata": meta,
        "spec": {"clusterName": "demo", "infrastructureRef": {"name": name}},
        "status": machine_status or {},
    }
    spec = {"virtualMachineID": vmid} if vmid else {}
    return machine, {"kind": "ProxmoxMachine", "metadata": dict(meta), "spec": spec, "status": pm_status}


def with_status(obj, status):
    return {**obj, "status": status}


def provisioned_objects(md_status=None, extra=()):
    objs = rendered()
    return [
        with_status(objs["Cluster"], {"phase": "Provisioned"}),
        with_status(
            objs["ProxmoxCluster"],
            {"initialization": {"provisioned": True}, "conditions": [cond("ProxmoxAvailable", "True", "Provisioned")]},
        ),
        {
            **with_status(
                objs["KamajiControlPlane"],
                {"ready": True, "version": "v1.33.4", "readyReplicas": 2, "replicas": 2},
            ),
            "spec": {**objs["KamajiControlPlane"]["spec"], "controlPlaneEndpoint": {"host": "10.9.0.5", "port": 6443}},
        },
        with_status(objs["MachineDeployment"], md_status or {}),
        *extra,
    ]


def status_of(objects) -> ClusterStatus:
    statuses = build_statuses(objects)
    assert list(statuses) == [("tenant-acme", "demo")]
    return statuses[("tenant-acme", "demo")]


def test_fresh_cluster_without_any_status():
    status = status_of(list(rendered().values()))
    assert status.exists and status.overall == "provisioning"
    assert [s.state for s in status.pipeline] == ["progress", "progress", "pending"]
    assert status.pipeline[2].summary == "waiting for the control plane"


def test_missing_control_plane_endpoint():
    objs = rendered()
    message = "waiting for the control plane provider to set spec.controlPlaneEndpoint"
    pc = with_status(
        objs["ProxmoxCluster"],
        {"conditions": [cond("ProxmoxAvailable", "False", "MissingControlPlaneEndpoint", message)]},
    )
    kcp = with_status(
        objs["KamajiControlPlane"],
        {"ready": False, "version": "", "conditions": [cond("Available", "False", "Deploying", "TCP starting")]},
    )
    cluster = with_status(
        objs["Cluster"],
        {"phase": "Provisioning", "conditions": [cond("InfrastructureReady", "False", "NotReady", "waiting")]},
    )
    status = status_of([cluster, pc, kcp, objs["MachineDeployment"]])
    assert status.phase == "Provisioning"
    assert status.conditions == ["InfrastructureReady: NotReady — waiting"]
    infra, control_plane, workers = status.pipeline
    assert infra.state == "progress" and "Kamaji" in infra.summary
    assert infra.messages == [f"ProxmoxAvailable: MissingControlPlaneEndpoint — {message}"]
    assert control_plane.state == "progress"
    assert control_plane.messages == ["Available: Deploying — TCP starting"]
    assert workers.state == "pending"


def test_credentials_not_found_is_a_failure():
    objs = rendered()
    pc = with_status(
        objs["ProxmoxCluster"],
        {"conditions": [cond("ProxmoxAvailable", "False", "CredentialsNotFound", "secret not found")]},
    )
    status = status_of([objs["Cluster"], pc, objs["KamajiControlPlane"]])
    assert status.pipeline[0].state == "failed"
    assert status.overall == "failed"
    assert "secret not found" in status.pipeline[0].messages[0]


def test_waiting_for_cloud_init():
    machine, pm = machine_pair(
        "demo-md0-abc12",
        pm_status={
            "vmStatus": "pending",
            "proxmoxNode": "pve2",
            "taskRef": "UPID:pve2:0001:qmstart:100000:",
            "addresses": [
                {"type": "Hostname", "address": "demo-md0-abc12"},
                {"type": "InternalIP", "address": "10.20.0.101"},
            ],
            "conditions": [cond("VirtualMachineProvisioned", "False", "WaitingForCloudInit", "cloud-init is running")],
        },
        machine_status={
            "phase": "Provisioning",
            "conditions": [
                cond("InfrastructureReady", "False", "WaitingForCloudInit", "echo"),
                cond("Ready", "False", "X"),
            ],
        },
    )
    md_status = {"replicas": 1, "readyReplicas": 0, "availableReplicas": 0}
    status = status_of(provisioned_objects(md_status, [machine, pm]))
    infra, control_plane, workers = status.pipeline
    assert (infra.state, control_plane.state) == ("ready", "ready")
    assert control_plane.summary == "Kubernetes v1.33.4, 2/2 replicas ready"
    assert status.endpoint == "10.9.0.5:6443"
    assert workers.state == "progress" and workers.summary == "0/2 workers ready"
    # capmox's precise reason wins over the Machine conditions that merely echo it.
    assert workers.messages == [
        "demo-md0-abc12: VirtualMachineProvisioned: WaitingForCloudInit — cloud-init is running"
    ]
    info = status.machines[0]
    assert (info.vm_status, info.proxmox_node, info.vmid) == ("pending", "pve2", 100000)
    assert info.addresses == ["10.20.0.101"] and info.task_ref.startswith("UPID:pve2")
    assert info.phase == "Provisioning" and info.node_group == "md0" and not info.ready


def test_vm_provision_failed_is_terminal():
    failed_machine, failed_pm = machine_pair(
        "demo-md0-bad00",
        pm_status={
            "vmStatus": "notfound",
            "conditions": [
                cond("VirtualMachineProvisioned", "False", "VMProvisionFailed", "no node with enough memory")
            ],
        },
        vmid=None,
    )
    ok_machine, ok_pm = machine_pair(
        "demo-md0-ok000",
        pm_status={"vmStatus": "ready", "conditions": [cond("VirtualMachineProvisioned", "True", "Provisioned")]},
        machine_status={
            "phase": "Running",
            "nodeRef": {"name": "demo-md0-ok000"},
            "conditions": [cond("Ready", "True", "Ready")],
        },
        vmid=100001,
    )
    md_status = {"replicas": 2, "readyReplicas": 1, "availableReplicas": 1}
    status = status_of(provisioned_objects(md_status, [failed_machine, failed_pm, ok_machine, ok_pm]))
    workers = status.pipeline[2]
    assert workers.state == "failed" and status.overall == "failed"
    assert "MachineHealthCheck" in workers.summary and "1/2" in workers.summary
    assert workers.messages == [
        "demo-md0-bad00: VirtualMachineProvisioned: VMProvisionFailed — no node with enough memory"
    ]
    ok = next(m for m in status.machines if m.name == "demo-md0-ok000")
    assert ok.ready and ok.node_name == "demo-md0-ok000" and ok.vmid == 100001


def test_all_ready():
    machines = []
    for index in range(2):
        name = f"demo-md0-r{index}"
        machines += machine_pair(
            name,
            pm_status={"vmStatus": "ready", "conditions": [cond("VirtualMachineProvisioned", "True", "Provisioned")]},
            machine_status={"phase": "Running", "conditions": [cond("Ready", "True", "Ready")]},
            vmid=100000 + index,
        )
    md_status = {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2, "upToDateReplicas": 2}
    status = status_of(provisioned_objects(md_status, machines))
    assert [s.state for s in status.pipeline] == ["ready", "ready", "ready"]
    assert status.overall == "ready"
    assert all(not s.messages for s in status.pipeline)
    assert status.node_groups[0].desired == status.node_groups[0].ready == 2


def test_deleting_cluster_and_orphan_machines():
    objs = provisioned_objects()
    objs[0] = {**objs[0], "metadata": {**objs[0]["metadata"], "deletionTimestamp": T0}}
    status = status_of(objs)
    assert status.overall == "deleting" and {s.state for s in status.pipeline} <= {"deleting", "pending"}

    # Cluster gone but a ProxmoxMachine still being deleted: still "deleting", not "absent".
    _, pm = machine_pair(
        "demo-md0-zz", pm_status={"conditions": [cond("VirtualMachineProvisioned", "False", "Deleting", "")]}
    )
    status = status_of([pm])
    assert not status.exists and status.overall == "deleting"
    assert status.machines[0].provisioned_reason == "Deleting"


def test_round_trip_through_json():
    machine, pm = machine_pair(
        "demo-md0-abc12",
        pm_status={"conditions": [cond("VirtualMachineProvisioned", "False", "Cloning", "")]},
    )
    status = status_of(provisioned_objects({"replicas": 1}, [machine, pm]))
    data = status.to_dict()
    assert data["overall"] == "provisioning"
    again = ClusterStatus.from_dict(data)
    assert again == status and again.overall == status.overall


def test_upgrade_and_rollout_are_progress_not_ready():
    machines = []
    for index in range(2):
        machines += machine_pair(
            f"demo-md0-u{index}",
            pm_status={"vmStatus": "ready", "conditions": [cond("VirtualMachineProvisioned", "True", "Provisioned")]},
            machine_status={"phase": "Running", "conditions": [cond("Ready", "True", "Ready")]},
            vmid=100000 + index,
        )
    md_status = {"replicas": 3, "readyReplicas": 2, "availableReplicas": 2, "upToDateReplicas": 1}
    objects = provisioned_objects(md_status, machines)
    kcp = next(o for o in objects if o["kind"] == "KamajiControlPlane")
    kcp["spec"] = {**kcp["spec"], "version": "v1.34.1"}
    status = status_of(objects)
    control_plane, workers = status.pipeline[1], status.pipeline[2]
    assert control_plane.state == "progress" and control_plane.summary == "upgrading Kubernetes v1.33.4 → v1.34.1"
    assert status.control_plane_ready  # the API server stays up during the upgrade
    assert workers.state == "progress" and workers.summary == "replacing or removing machines in md0"
    assert status.overall == "provisioning"
