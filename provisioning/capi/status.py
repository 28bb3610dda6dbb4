"""Read CAPI/Kamaji/capmox status and map it to a pipeline: infrastructure -> control plane -> workers.

`read_status` makes one label-selected list call per kind for all clusters; `build_statuses` is the pure
mapping (tested with realistic condition sets, no API server needed).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from kubernetes import client as k8s

from . import kinds
from .render import CAPI_CLUSTER_LABEL, LABEL_NODE_GROUP, PORTAL_SELECTOR

PENDING, PROGRESS, READY, FAILED, DELETING = "pending", "progress", "ready", "failed", "deleting"
# capmox reasons that need a person (or MachineHealthCheck remediation), not more waiting.
TERMINAL_VM_REASONS = {"VMProvisionFailed"}
FAILED_INFRA_REASONS = {"CredentialsNotFound"}
STATUS_KINDS = (
    kinds.CLUSTER,
    kinds.PROXMOX_CLUSTER,
    kinds.KAMAJI_CONTROL_PLANE,
    kinds.MACHINE_DEPLOYMENT,
    kinds.MACHINE,
    kinds.PROXMOX_MACHINE,
)


@dataclass
class PipelineStep:
    key: str
    title: str
    state: str = PENDING
    summary: str = ""
    messages: list[str] = field(default_factory=list)


@dataclass
class MachineInfo:
    name: str
    node_group: str
    phase: str = ""
    ready: bool = False
    vm_status: str = ""
    proxmox_node: str = ""
    vmid: int | None = None
    addresses: list[str] = field(default_factory=list)
    task_ref: str = ""
    provisioned_reason: str = ""
    provisioned_message: str = ""
    node_name: str = ""


@dataclass
class NodeGroupStatus:
    name: str
    deployment: str
    desired: int = 0
    current: int = 0  # machines that exist (old and new ones during a rollout)
    ready: int = 0
    available: int = 0
    up_to_date: int | None = None  # None: the controller does not report it


@dataclass
class ClusterStatus:
    namespace: str
    name: str
    exists: bool = False
    deleting: bool = False
    phase: str = ""
    infrastructure_ready: bool = False
    control_plane_ready: bool = False
    control_plane_version: str = ""
    endpoint: str = ""
    conditions: list[str] = field(default_factory=list)  # the Cluster's own non-True conditions, described
    node_groups: list[NodeGroupStatus] = field(default_factory=list)
    machines: list[MachineInfo] = field(default_factory=list)
    pipeline: list[PipelineStep] = field(default_factory=list)

    @property
    def overall(self) -> str:
        """absent | deleting | failed | ready | provisioning."""
        if not self.exists:
            return DELETING if self.machines else "absent"
        if self.deleting:
            return DELETING
        states = [step.state for step in self.pipeline]
        if FAILED in states:
            return FAILED
        if states and all(s == READY for s in states):
            return READY
        return "provisioning"

    def to_dict(self) -> dict:
        """JSON-safe form for ClusterRequest.status_detail."""
        data = asdict(self)
        data["overall"] = self.overall
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ClusterStatus:
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data["node_groups"] = [NodeGroupStatus(**g) for g in data.get("node_groups", [])]
        data["machines"] = [MachineInfo(**m) for m in data.get("machines", [])]
        data["pipeline"] = [PipelineStep(**s) for s in data.get("pipeline", [])]
        return cls(**data)


def _conditions(obj: dict | None) -> list[dict]:
    return list(((obj or {}).get("status") or {}).get("conditions") or [])


def _condition(obj: dict | None, ctype: str) -> dict | None:
    return next((c for c in _conditions(obj) if c.get("type") == ctype), None)


def _describe(condition: dict, subject: str = "") -> str:
    text = f"{condition.get('type')}: {condition.get('reason') or condition.get('status')}"
    if condition.get("message"):
        text += f" — {condition['message']}"
    return f"{subject}: {text}" if subject else text


def _not_true(obj: dict | None, subject: str = "", skip: tuple[str, ...] = ()) -> list[str]:
    return [
        _describe(c, subject)
        for c in _conditions(obj)
        if c.get("status") != "True" and c.get("type") not in skip and c.get("type") != "Paused"
    ]


def _status(obj: dict | None) -> dict:
    return (obj or {}).get("status") or {}


def _infrastructure_step(cluster: dict | None, proxmox_cluster: dict | None) -> tuple[PipelineStep, bool]:
    step = PipelineStep("infrastructure", "Infrastructure (Proxmox)")
    if proxmox_cluster is None:
        step.summary = "ProxmoxCluster not created yet"
        step.messages = _not_true(cluster, "Cluster", skip=("ControlPlaneAvailable", "WorkersAvailable"))
        return step, False
    available = _condition(proxmox_cluster, "ProxmoxAvailable")
    provisioned = bool(_status(proxmox_cluster).get("initialization", {}).get("provisioned")) or (
        available is not None and available.get("status") == "True"
    )
    if provisioned:
        step.state, step.summary = READY, "Proxmox reachable, node IP pool ready"
        return step, True
    step.messages = _not_true(proxmox_cluster)
    reasons = {c.get("reason") for c in _conditions(proxmox_cluster) if c.get("status") != "True"}
    if reasons & FAILED_INFRA_REASONS:
        step.state, step.summary = FAILED, "capmox has no Proxmox credentials for this cluster"
    elif "MissingControlPlaneEndpoint" in reasons:
        step.state, step.summary = PROGRESS, "waiting for Kamaji to publish the control-plane endpoint"
    else:
        step.state, step.summary = PROGRESS, "capmox is preparing the cluster infrastructure"
    return step, False


def _control_plane_step(control_plane: dict | None) -> tuple[PipelineStep, bool, str]:
    step = PipelineStep("control_plane", "Control plane (Kamaji)")
    if control_plane is None:
        step.summary = "KamajiControlPlane not created yet"
        return step, False, ""
    status = _status(control_plane)
    desired = int((control_plane.get("spec") or {}).get("replicas") or 0)
    ready_replicas = int(status.get("readyReplicas") or 0)
    version = str(status.get("version") or "")
    initialized = bool(status.get("ready")) or bool(status.get("initialization", {}).get("controlPlaneInitialized"))
    step.messages = _not_true(control_plane)
    wanted = str((control_plane.get("spec") or {}).get("version") or "")
    if initialized and version and wanted and version.lstrip("v") != wanted.lstrip("v"):
        step.state, step.summary = PROGRESS, f"upgrading Kubernetes {version} → {wanted}"
        return step, True, version
    if initialized and ready_replicas >= desired:
        step.state = READY
        step.summary = f"Kubernetes {version or '?'}, {ready_replicas}/{desired} replicas ready"
        return step, True, version
    step.state = PROGRESS
    step.summary = f"{ready_replicas}/{desired} control-plane replicas ready"
    if status.get("failureMessage"):
        step.messages.append(str(status["failureMessage"]))
    return step, False, version


def _machine_info(machine: dict | None, proxmox_machine: dict | None, group: str) -> MachineInfo:
    obj = machine or proxmox_machine or {}
    info = MachineInfo(name=obj.get("metadata", {}).get("name", ""), node_group=group)
    mstatus = _status(machine)
    info.phase = str(mstatus.get("phase") or "")
    ready = _condition(machine, "Ready")
    info.ready = bool(ready and ready.get("status") == "True")
    info.node_name = str((mstatus.get("nodeRef") or {}).get("name") or "")
    pstatus = _status(proxmox_machine)
    info.vm_status = str(pstatus.get("vmStatus") or "")
    info.proxmox_node = str(pstatus.get("proxmoxNode") or "")
    info.task_ref = str(pstatus.get("taskRef") or "")
    vmid = ((proxmox_machine or {}).get("spec") or {}).get("virtualMachineID")
    info.vmid = int(vmid) if vmid is not None else None
    addresses = pstatus.get("addresses") or mstatus.get("addresses") or []
    info.addresses = [a["address"] for a in addresses if a.get("type") in ("InternalIP", "ExternalIP")]
    provisioned = _condition(proxmox_machine, "VirtualMachineProvisioned")
    if provisioned:
        info.provisioned_reason = str(provisioned.get("reason") or "")
        info.provisioned_message = str(provisioned.get("message") or "")
    return info


def _workers_step(
    deployments: list[dict], machines: list[dict], proxmox_machines: list[dict], control_plane_ready: bool
) -> tuple[PipelineStep, list[NodeGroupStatus], list[MachineInfo]]:
    step = PipelineStep("workers", "Workers (Proxmox VMs)")
    groups = []
    for md in sorted(deployments, key=lambda o: o["metadata"]["name"]):
        labels = md["metadata"].get("labels", {})
        status = _status(md)
        groups.append(
            NodeGroupStatus(
                name=labels.get(LABEL_NODE_GROUP, md["metadata"]["name"]),
                deployment=md["metadata"]["name"],
                desired=int((md.get("spec") or {}).get("replicas") or 0),
                current=int(status.get("replicas") or 0),
                ready=int(status.get("readyReplicas") or 0),
                available=int(status.get("availableReplicas") or 0),
                up_to_date=int(status["upToDateReplicas"]) if "upToDateReplicas" in status else None,
            )
        )
    pm_by_name = {pm["metadata"]["name"]: pm for pm in proxmox_machines}
    infos, used = [], set()
    for machine in sorted(machines, key=lambda o: o["metadata"]["name"]):
        infra_name = ((machine.get("spec") or {}).get("infrastructureRef") or {}).get("name", "")
        pm = pm_by_name.get(infra_name)
        used.add(infra_name)
        group = machine["metadata"].get("labels", {}).get(LABEL_NODE_GROUP, "")
        infos.append(_machine_info(machine, pm, group))
        step.messages += _machine_messages(machine, pm)
    for name, pm in sorted(pm_by_name.items()):
        if name not in used:  # orphan ProxmoxMachine (its Machine is gone, e.g. during deletion)
            infos.append(_machine_info(None, pm, pm["metadata"].get("labels", {}).get(LABEL_NODE_GROUP, "")))
            step.messages += _machine_messages(None, pm)
    desired = sum(g.desired for g in groups)
    ready = sum(min(g.ready, g.available) for g in groups)
    failed = [m for m in infos if m.provisioned_reason in TERMINAL_VM_REASONS]
    if failed:
        step.state = FAILED
        step.summary = (
            f"{len(failed)} VM(s) failed to provision; the MachineHealthCheck replaces them "
            f"({ready}/{desired} workers ready)"
        )
    elif not groups:
        step.summary = "no MachineDeployment yet"
    elif ready >= desired and all(g.ready >= g.desired and g.available >= g.desired for g in groups):
        # Old machines still around (rollout or scale-down) or new ones not up to date yet: not done.
        rolling = [
            g.name for g in groups if g.current > g.desired or (g.up_to_date is not None and g.up_to_date < g.desired)
        ]
        if rolling:
            step.state, step.summary = PROGRESS, f"replacing or removing machines in {', '.join(rolling)}"
        else:
            step.state, step.summary = READY, f"{ready}/{desired} workers ready"
    elif not machines and not control_plane_ready:
        step.summary = "waiting for the control plane"
    else:
        step.state, step.summary = PROGRESS, f"{ready}/{desired} workers ready"
    return step, groups, infos


def _machine_messages(machine: dict | None, proxmox_machine: dict | None) -> list[str]:
    name = (machine or proxmox_machine or {}).get("metadata", {}).get("name", "?")
    provisioned = _condition(proxmox_machine, "VirtualMachineProvisioned")
    if provisioned is not None and provisioned.get("status") != "True":
        # capmox's VirtualMachineProvisioned reason is the precise VM state; Machine conditions only echo it.
        return [_describe(provisioned, name)]
    return _not_true(machine, name, skip=("Available", "Ready", "UpToDate"))


def build_status(namespace: str, name: str, objects: dict[str, list[dict]]) -> ClusterStatus:
    """Map the objects of one cluster (kind -> list) to a ClusterStatus with its pipeline."""
    cluster = next(iter(objects.get("Cluster", [])), None)
    status = ClusterStatus(namespace=namespace, name=name, exists=cluster is not None)
    if cluster is not None:
        status.phase = str(_status(cluster).get("phase") or "")
        status.deleting = bool(cluster["metadata"].get("deletionTimestamp")) or status.phase == "Deleting"
        status.conditions = _not_true(cluster)
    infra, status.infrastructure_ready = _infrastructure_step(
        cluster, next(iter(objects.get("ProxmoxCluster", [])), None)
    )
    control_plane_obj = next(iter(objects.get("KamajiControlPlane", [])), None)
    cp_step, status.control_plane_ready, status.control_plane_version = _control_plane_step(control_plane_obj)
    endpoint = ((control_plane_obj or {}).get("spec") or {}).get("controlPlaneEndpoint") or {}
    if endpoint.get("host"):
        status.endpoint = f"{endpoint['host']}:{endpoint.get('port', 6443)}"
    workers, status.node_groups, status.machines = _workers_step(
        objects.get("MachineDeployment", []),
        objects.get("Machine", []),
        objects.get("ProxmoxMachine", []),
        status.control_plane_ready,
    )
    status.pipeline = [infra, cp_step, workers]
    if status.deleting:
        for step in status.pipeline:
            step.state = DELETING if step.state != PENDING else step.state
    return status


def _cluster_key(obj: dict) -> tuple[str, str] | None:
    meta = obj.get("metadata", {})
    cluster_name = meta.get("labels", {}).get(CAPI_CLUSTER_LABEL)
    if obj.get("kind") == "Cluster":
        cluster_name = meta.get("name")
    return (meta.get("namespace", ""), cluster_name) if cluster_name else None


def build_statuses(objects: list[dict]) -> dict[tuple[str, str], ClusterStatus]:
    grouped: dict[tuple[str, str], dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for obj in objects:
        key = _cluster_key(obj)
        if key is not None:
            grouped[key][obj["kind"]].append(obj)
    return {key: build_status(key[0], key[1], by_kind) for key, by_kind in sorted(grouped.items())}


def list_portal_objects(api_client, namespaces: list[str] | None = None) -> list[dict]:
    """One label-selected list call per kind (per namespace when namespaces are given)."""
    api = k8s.CustomObjectsApi(api_client)
    found: list[dict] = []
    for kind in STATUS_KINDS:
        if namespaces is None:
            lists = [
                api.list_cluster_custom_object(kind.group, kind.version, kind.plural, label_selector=PORTAL_SELECTOR)
            ]
        else:
            lists = [
                api.list_namespaced_custom_object(
                    kind.group, kind.version, ns, kind.plural, label_selector=PORTAL_SELECTOR
                )
                for ns in sorted(set(namespaces))
            ]
        for listing in lists:
            for item in listing.get("items", []):
                item.setdefault("kind", kind.kind)  # list items may omit kind/apiVersion
                found.append(item)
    return found


def read_status(api_client, namespaces: list[str] | None = None) -> dict[tuple[str, str], ClusterStatus]:
    """{(namespace, cluster name): ClusterStatus} for every portal cluster the management cluster knows."""
    return build_statuses(list_portal_objects(api_client, namespaces))
