"""Plain input for the Cluster API renderer.

These dataclasses are deliberately free of Django so that rendering stays a pure function: the portal builds a
ClusterSpec from its models (from_request.py), the renderer turns it into manifests. Validation here
catches what would otherwise only fail inside the management cluster (CRD schema or capmox webhook).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# capmox tag / matchTags item pattern (case-insensitive in the CRD).
PROXMOX_TAG = re.compile(r"^[a-z0-9_][a-z0-9_\-+.]*$", re.IGNORECASE)
KUBERNETES_VERSION = re.compile(r"^v\d+\.\d+\.\d+$")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
NIC_MODELS = ("e1000", "virtio", "rtl8139", "vmxnet3")
BOOT_DISK = re.compile(r"^(scsi\d+|virtio\d+|sata[0-5]|ide[0-3])$")
MIN_BOOT_VOLUME_GB = 5
VMID_MIN, VMID_MAX = 100, 999_999_999


class SpecError(ValueError):
    """The request cannot be expressed as valid Cluster API objects."""


@dataclass(frozen=True)
class CloneSource:
    """Where worker VMs are cloned from: a fixed template (node + vmid) or a tag selector (exactly one)."""

    source_node: str = ""
    template_id: int | None = None
    match_tags: tuple[str, ...] = ()

    @property
    def uses_selector(self) -> bool:
        return bool(self.match_tags)


@dataclass(frozen=True)
class NodeNetwork:
    """Addressing capmox hands out from its per-cluster in-cluster IPAM pool (capmox has no DHCP)."""

    addresses: tuple[str, ...]  # IPs, "a-b" ranges or CIDRs
    prefix: int
    gateway: str
    dns_servers: tuple[str, ...]
    bridge: str = "vmbr0"
    vlan: int | None = None
    model: str = "virtio"


@dataclass(frozen=True)
class NodeGroupSpec:
    name: str
    replicas: int
    min_replicas: int
    max_replicas: int
    source: CloneSource
    sockets: int
    cores: int
    memory_mib: int
    disk_gib: int
    boot_disk: str = "scsi0"
    full_clone: bool = True
    storage: str = ""
    pool: str = ""
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterSpec:
    name: str
    namespace: str
    tenant: str
    request_id: int
    kubernetes_version: str  # "v1.33.4"
    control_plane_replicas: int
    network: NodeNetwork
    node_groups: tuple[NodeGroupSpec, ...]
    credentials_secret: str
    vmid_range: tuple[int, int]
    datastore_name: str = "default"
    service_type: str = "LoadBalancer"
    pod_cidr: str = "10.243.0.0/16"
    service_cidr: str = "10.95.0.0/16"
    allowed_nodes: tuple[str, ...] = ()
    ssh_user: str = "root"
    ssh_keys: tuple[str, ...] = ()
    extra_vm_tags: tuple[str, ...] = field(default=())

    @property
    def vm_tags(self) -> tuple[str, ...]:
        """Tags capmox appends to every worker VM: lets admins see in Proxmox which cluster owns a VM."""
        # The version tag makes a version change produce a new (immutable) machine template, hence a rollout.
        tags = [
            "proxmox-portal",
            f"tenant-{self.tenant}",
            f"cluster-{self.name}",
            f"k8s-{self.kubernetes_version}",
            *self.extra_vm_tags,
        ]
        return tuple(sorted({t.lower() for t in tags}))


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SpecError(message)


def _check_cidr(value: str, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise SpecError(f"{what} {value!r} is not a valid network: {exc}") from None


def _check_address_entry(entry: str) -> None:
    try:
        if "-" in entry:
            first, last = (ipaddress.ip_address(part.strip()) for part in entry.split("-", 1))
            _check(int(first) <= int(last), f"address range {entry!r} ends before it starts")
        elif "/" in entry:
            ipaddress.ip_network(entry, strict=False)
        else:
            ipaddress.ip_address(entry)
    except ValueError as exc:
        raise SpecError(f"node address {entry!r} is invalid: {exc}") from None


def validate_node_group(group: NodeGroupSpec, cluster_name: str) -> None:
    _check(bool(DNS_LABEL.match(group.name)), f"node group name {group.name!r} is not a DNS label")
    _check(
        len(cluster_name) + 1 + len(group.name) <= 63,
        f"'{cluster_name}-{group.name}' is longer than 63 characters (used as a label value)",
    )
    _check(0 <= group.min_replicas <= group.max_replicas, f"{group.name}: need 0 <= min <= max replicas")
    _check(
        group.min_replicas <= group.replicas <= group.max_replicas,
        f"{group.name}: replicas {group.replicas} outside [{group.min_replicas}, {group.max_replicas}]",
    )
    src = group.source
    if src.uses_selector:
        _check(
            not src.source_node and src.template_id is None,
            f"{group.name}: use either sourceNode+templateID or templateSelector, not both",
        )
        for tag in src.match_tags:
            _check(bool(PROXMOX_TAG.match(tag)), f"{group.name}: template tag {tag!r} is not a valid Proxmox tag")
    else:
        _check(
            bool(src.source_node) and src.template_id is not None,
            f"{group.name}: a template needs both a source node and a template vmid",
        )
        _check(VMID_MIN <= (src.template_id or 0) <= VMID_MAX, f"{group.name}: template vmid out of range")
    _check(group.sockets >= 1 and group.cores >= 1, f"{group.name}: sockets and cores must be >= 1")
    _check(group.memory_mib > 0 and group.memory_mib % 8 == 0, f"{group.name}: memoryMiB must be a multiple of 8")
    _check(group.disk_gib >= MIN_BOOT_VOLUME_GB, f"{group.name}: boot volume must be >= {MIN_BOOT_VOLUME_GB} GB")
    _check(
        bool(BOOT_DISK.match(group.boot_disk)),
        f"{group.name}: boot disk {group.boot_disk!r} is not a disk slot",
    )
    _check(group.full_clone or not group.storage, f"{group.name}: a target storage needs a full clone")
    for role in group.roles:
        _check(bool(DNS_LABEL.match(role)), f"{group.name}: role {role!r} is not a DNS label")


def validate_spec(spec: ClusterSpec) -> None:
    """Raise SpecError for anything the CRDs or capmox's webhooks would reject."""
    _check(
        bool(DNS_LABEL.match(spec.name)) and len(spec.name) <= 63,
        f"cluster name {spec.name!r} is not a DNS label",
    )
    _check(bool(DNS_LABEL.match(spec.namespace)), f"namespace {spec.namespace!r} is not a DNS label")
    _check(bool(KUBERNETES_VERSION.match(spec.kubernetes_version)), "kubernetes version must look like v1.33.4")
    _check(spec.control_plane_replicas >= 1, "control plane needs at least one replica")
    _check(spec.service_type in SERVICE_TYPES, f"service type must be one of {SERVICE_TYPES}")
    _check(bool(spec.datastore_name), "a Kamaji datastore name is required")
    _check(bool(spec.credentials_secret), "a Proxmox credentials Secret name is required")
    pods = _check_cidr(spec.pod_cidr, "pod CIDR")
    services = _check_cidr(spec.service_cidr, "service CIDR")
    _check(not pods.overlaps(services), "pod and service CIDRs overlap")
    start, end = spec.vmid_range
    _check(VMID_MIN <= start <= end <= VMID_MAX, f"vmIDRange {start}-{end} is invalid")
    net = spec.network
    _check(bool(net.addresses), "the tenant network has no node addresses (capmox needs static IPs, no DHCP)")
    for entry in net.addresses:
        _check_address_entry(entry)
    _check(1 <= net.prefix <= 32, "IPv4 prefix must be 1..32")
    try:
        ipaddress.IPv4Address(net.gateway)
    except ValueError:
        raise SpecError(f"gateway {net.gateway!r} is not an IPv4 address") from None
    _check(bool(net.dns_servers), "at least one DNS server is required")
    _check(net.vlan is None or 1 <= net.vlan <= 4094, "VLAN must be 1..4094")
    _check(bool(net.bridge), "a bridge is required")
    _check(net.model in NIC_MODELS, f"NIC model must be one of {NIC_MODELS}")
    _check(bool(spec.node_groups), "a cluster needs at least one node group")
    names = [g.name for g in spec.node_groups]
    _check(len(names) == len(set(names)), "node group names must be unique")
    for group in spec.node_groups:
        validate_node_group(group, spec.name)
    for tag in spec.vm_tags:
        _check(bool(PROXMOX_TAG.match(tag)), f"VM tag {tag!r} is not a valid Proxmox tag")


def allocate_vmid_block(
    range_start: int, range_end: int, taken: list[tuple[int, int]], block_size: int
) -> tuple[int, int]:
    """First block of `block_size` vmids inside [range_start, range_end] that overlaps no taken (start, end) range.

    Each cluster gets its own vmIDRange so that capmox (which only avoids ids of its own cluster's machines)
    never races another cluster for the same vmid (capmox issue #842). Blocks are aligned from range_start.
    """
    _check(block_size >= 1, "block size must be positive")
    start = range_start
    while start + block_size - 1 <= range_end:
        end = start + block_size - 1
        if not any(start <= t_end and t_start <= end for t_start, t_end in taken):
            return start, end
        start += block_size
    raise SpecError(f"no free block of {block_size} vmids left in {range_start}-{range_end}")
