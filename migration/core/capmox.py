"""capmox (cluster-api-provider-proxmox, infrastructure.cluster.x-k8s.io/v1alpha2) objects.

``ProxmoxMachineTemplate`` per VM; for CAPK clusters the full rewrite: KubevirtCluster -> ProxmoxCluster,
KubevirtMachineTemplate -> ProxmoxMachineTemplate and every infrastructure reference repointed.
"""

from __future__ import annotations

from .inventory import CAPK_KINDS
from .loader import Document
from .mappings import Mappings
from .model import DiskPlan
from .qm import PVE_NIC_MODELS, network_target, pve_tag, tags_for
from .vm import VmContext

API_VERSION = "infrastructure.cluster.x-k8s.io/v1alpha2"
INFRA_GROUP = "infrastructure.cluster.x-k8s.io"
CAPMOX_NIC_MODELS = ("e1000", "virtio", "rtl8139", "vmxnet3")
# closest model capmox accepts for the KubeVirt models it lacks
CAPMOX_NIC_FALLBACK = {"e1000e": "e1000", "igb": "e1000", "ne2k_pci": "rtl8139", "pcnet": "rtl8139"}
MIN_BOOT_GB = 5
# RFC 5737 documentation range: obviously not routable, flagged by a Critical concern
PLACEHOLDER_IPV4 = {"addresses": ["192.0.2.10-192.0.2.50"], "prefix": 24, "gateway": "192.0.2.1"}
PLACEHOLDER_DNS = ["192.0.2.1"]


def capmox_nic_model(model: str) -> str:
    pve = PVE_NIC_MODELS.get(model, "virtio")
    return pve if pve in CAPMOX_NIC_MODELS else CAPMOX_NIC_FALLBACK.get(model, "virtio")


def round_memory(mib: int) -> int:
    """capmox requires memoryMiB to be a multiple of 8; round up."""
    return -(-mib // 8) * 8


def boot_size_gb(size_gib: int | None) -> int:
    return max(MIN_BOOT_GB, size_gib or MIN_BOOT_GB)


def machine_template(ctx: VmContext, disks: list[DiskPlan], description: str) -> dict:
    boot = next((d for d in disks if d.boot), None)
    template = (boot.template if boot else None) or ctx.mappings.default_template.capmox_fields()
    devices = []
    for nic in ctx.nics:
        target, _mapped = network_target(ctx, nic)
        device: dict = {"name": f"net{nic.index}", "bridge": target.bridge, "model": capmox_nic_model(nic.model)}
        if target.vlan is not None:
            device["vlan"] = target.vlan
        if target.mtu is not None and (target.mtu == 1 or 576 <= target.mtu <= 65520):
            device["mtu"] = target.mtu
        if ctx.multiqueue and ctx.vcpus > 1:
            device["queues"] = min(ctx.vcpus, 64)
        devices.append(device)
    spec: dict = dict(template)
    spec["full"] = True
    spec["storage"] = boot.storage if boot else ctx.mappings.default_storage.storage
    if boot is not None and boot.format != "raw":
        spec["format"] = boot.format
    spec["numSockets"] = ctx.sockets
    spec["numCores"] = ctx.cores * ctx.threads
    spec["memoryMiB"] = round_memory(ctx.memory_mib)
    spec["disks"] = {
        "bootVolume": {"disk": boot.slot if boot else "scsi0", "sizeGb": boot_size_gb(boot.size_gib if boot else None)}
    }
    spec["network"] = {"networkDevices": devices}
    spec["tags"] = tags_for(ctx)
    spec["description"] = description
    if ctx.cloud_init is not None and ctx.cloud_init.is_ignition:
        spec["checks"] = {"skipCloudInitStatus": True}
    metadata: dict = {"name": ctx.source.name}
    if ctx.source.namespace:
        metadata["namespace"] = ctx.source.namespace
    return {
        "apiVersion": API_VERSION,
        "kind": "ProxmoxMachineTemplate",
        "metadata": metadata,
        "spec": {"template": {"spec": spec}},
    }


def template_requirements(ctx: VmContext, disks: list[DiskPlan], config: dict) -> list[str]:
    """What the Proxmox template VM must already have, because capmox cannot set it."""
    boot = next((d for d in disks if d.boot), None)
    needs = [
        f"boot disk on {boot.slot if boot else 'scsi0'} (resized to bootVolume.sizeGb at clone)",
        "cloud-init and qemu-guest-agent installed; ide0 left free for the capmox bootstrap ISO",
    ]
    for key in ("bios", "efidisk0", "tpmstate0", "machine", "scsihw", "cpu", "numa", "hugepages", "ostype"):
        if key in config:
            needs.append(f"{key}: {config[key]}")
    extra = [d.slot for d in disks if not d.boot and d.device != "cdrom"]
    if extra:
        needs.append("additional disks (capmox only manages the boot volume): " + ", ".join(extra))
    return needs


def _ref_rewrite(node: object) -> tuple[object, bool]:
    """Rewrite every object reference to a Kubevirt* infrastructure kind; returns (node, changed)."""
    if isinstance(node, dict):
        changed = False
        out = {}
        for key, value in node.items():
            new, did = _ref_rewrite(value)
            out[key] = new
            changed = changed or did
        kind = out.get("kind")
        if kind in CAPK_KINDS and ("apiVersion" in out or "apiGroup" in out):
            out["kind"] = CAPK_KINDS[kind]
            if "apiVersion" in out:
                out["apiVersion"] = API_VERSION
            else:
                out["apiGroup"] = INFRA_GROUP
            changed = True
        return (out if changed else node), changed
    if isinstance(node, list):
        items = [_ref_rewrite(v) for v in node]
        if any(did for _v, did in items):
            return [v for v, _did in items], True
        return node, False
    return node, False


def proxmox_cluster(doc: Document, mappings: Mappings) -> tuple[dict, bool]:
    """ProxmoxCluster for a KubevirtCluster; returns (object, used placeholder IPAM?)."""
    cluster = mappings.cluster
    spec: dict = {}
    source_spec = doc.body.get("spec") if isinstance(doc.body.get("spec"), dict) else {}
    endpoint = source_spec.get("controlPlaneEndpoint") or cluster.get("controlPlaneEndpoint")
    if isinstance(endpoint, dict) and isinstance(endpoint.get("host"), str) and endpoint["host"]:
        port = endpoint.get("port")
        valid_port = isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
        spec["controlPlaneEndpoint"] = {"host": endpoint["host"][:512], "port": port if valid_port else 6443}
    placeholder = False
    if cluster.get("ipv4Config") or cluster.get("ipv6Config"):
        for key in ("ipv4Config", "ipv6Config"):
            if cluster.get(key):
                spec[key] = cluster[key]
    else:
        spec["ipv4Config"] = dict(PLACEHOLDER_IPV4)
        placeholder = True
    dns = cluster.get("dnsServers")
    if not dns:
        placeholder = True
    spec["dnsServers"] = list(dns) if dns else list(PLACEHOLDER_DNS)
    if cluster.get("allowedNodes"):
        spec["allowedNodes"] = list(cluster["allowedNodes"])
    metadata: dict = {"name": doc.name}
    if doc.namespace:
        metadata["namespace"] = doc.namespace
    labels = doc.metadata.get("labels")
    if isinstance(labels, dict) and labels:
        metadata["labels"] = dict(labels)
    return {"apiVersion": API_VERSION, "kind": "ProxmoxCluster", "metadata": metadata, "spec": spec}, placeholder


def rewrite_capi_object(doc: Document) -> dict:
    """A CAPI object with infrastructure references repointed at capmox kinds (other fields untouched)."""
    body, _changed = _ref_rewrite(doc.body)
    return body  # type: ignore[return-value]


__all__ = [
    "API_VERSION",
    "boot_size_gb",
    "capmox_nic_model",
    "machine_template",
    "proxmox_cluster",
    "pve_tag",
    "rewrite_capi_object",
    "round_memory",
    "template_requirements",
]
