"""Proxmox operations the portal needs, each returning plain data. Callers make them idempotent by asking first."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass, field

from .client import ProxmoxClient
from .errors import NotFound, PermanentError, ProxmoxError

MiB = 1024 * 1024
GiB = 1024 * MiB
_DISK_KEY = re.compile(r"^(scsi|virtio|sata|ide)\d+$")
_SIZE = re.compile(r"size=(\d+(?:\.\d+)?)([KMGT]?)")
_UNITS = {"": 1, "K": 1024, "M": MiB, "G": GiB, "T": 1024 * GiB}


# ---------------------------------------------------------------------- cluster view
def cluster_vms(client: ProxmoxClient) -> list[dict]:
    """Every QEMU guest (templates included), one call."""
    return [r for r in client.get("cluster/resources", type="vm") or [] if r.get("type", "qemu") == "qemu"]


def find_vm(client: ProxmoxClient, vmid: int) -> dict | None:
    for item in cluster_vms(client):
        if int(item.get("vmid", -1)) == int(vmid):
            return item
    return None


def vmid_is_free(client: ProxmoxClient, vmid: int) -> bool:
    """`/cluster/nextid?vmid=N` answers N when free and 400 'already exists' when taken."""
    try:
        answer = client.get("cluster/nextid", vmid=int(vmid))
    except PermanentError as exc:
        if exc.status == 400:
            return False
        raise
    return int(answer) == int(vmid)


@dataclass
class NodeCapacity:
    node: str
    online: bool
    total_mem: int
    committed_mem: int  # sum of maxmem of the node's (non-template) VMs
    running: int
    vms: int

    @property
    def free_mem(self) -> int:
        return self.total_mem - self.committed_mem


def node_capacity(
    client: ProxmoxClient, memory_overrides: dict[int, int] | None = None, resources: list[dict] | None = None
) -> dict[str, NodeCapacity]:
    """Per node: total memory, memory promised to VMs (Σ maxmem, as capmox's scheduler) and running VMs. One call.

    `memory_overrides` (vmid -> bytes) replaces maxmem for VMs whose final size is known but not yet configured
    (a fresh clone still has the template's memory)."""
    overrides = memory_overrides or {}
    if resources is None:
        resources = client.get("cluster/resources") or []
    nodes: dict[str, NodeCapacity] = {}
    for item in resources:
        if item.get("type") == "node":
            nodes[item["node"]] = NodeCapacity(
                item["node"], item.get("status") == "online", int(item.get("maxmem") or 0), 0, 0, 0
            )
    for item in resources:
        if item.get("type") not in ("qemu", "lxc") or item.get("template"):
            continue
        cap = nodes.get(item.get("node"))
        if cap is None:
            continue
        cap.committed_mem += overrides.get(int(item.get("vmid", -1)), int(item.get("maxmem") or 0))
        cap.vms += 1
        cap.running += item.get("status") == "running"
    return nodes


def pick_node(
    capacities: dict[str, NodeCapacity], memory_bytes: int, allowed: list[str] | None = None, adjustment: int = 100
) -> str:
    """Online allowed node with room for `memory_bytes`; fewest running VMs, then most free memory."""
    candidates = [c for c in capacities.values() if c.online and (not allowed or c.node in allowed)]
    if not candidates:
        raise PermanentError(
            "None of the Proxmox nodes this tenant may use is online.",
            f"no online node among allowed={allowed or 'any'}; known={sorted(capacities)}",
            code="no_node",
        )
    fitting = [
        c for c in candidates if adjustment == 0 or c.total_mem * adjustment // 100 - c.committed_mem >= memory_bytes
    ]
    if not fitting:
        detail = ", ".join(f"{c.node}: {c.free_mem // MiB} MiB free" for c in candidates)
        raise PermanentError(
            f"No allowed Proxmox node has {memory_bytes // MiB} MiB of memory free.",
            f"no room for {memory_bytes // MiB} MiB ({detail})",
            code="no_room",
        )
    fitting.sort(key=lambda c: (c.running, -c.free_mem, c.node))
    return fitting[0].node


# ---------------------------------------------------------------------- VM config
def vm_config(client: ProxmoxClient, node: str, vmid: int) -> dict:
    return client.get(f"nodes/{node}/qemu/{vmid}/config") or {}


def vm_config_or_none(client: ProxmoxClient, node: str, vmid: int) -> dict | None:
    try:
        return vm_config(client, node, vmid)
    except NotFound:
        return None


def vm_status(client: ProxmoxClient, node: str, vmid: int) -> dict:
    return client.get(f"nodes/{node}/qemu/{vmid}/status/current") or {}


def disk_size_bytes(value: str) -> int:
    match = _SIZE.search(str(value))
    return int(float(match.group(1)) * _UNITS[match.group(2)]) if match else 0


def boot_disk(config: dict) -> tuple[str, int] | None:
    """The boot disk key and its size in bytes: the first disk in `boot: order=`, else the first non-CD disk."""
    order = re.search(r"order=([^,\s]+)", str(config.get("boot", "")))
    keys = order.group(1).split(";") if order else []
    keys += sorted(k for k in config if _DISK_KEY.match(k))
    for key in keys:
        value = str(config.get(key, ""))
        if _DISK_KEY.match(key) and value and "media=cdrom" not in value:
            return key, disk_size_bytes(value)
    return None


def has_cloudinit_drive(config: dict) -> bool:
    return any(_DISK_KEY.match(k) and "cloudinit" in str(v) for k, v in config.items())


def encode_sshkeys(keys: str) -> str:
    """PVE wants the keys URL-encoded with %20 for spaces (not '+'), newline-separated."""
    lines = [line.strip() for line in (keys or "").splitlines() if line.strip()]
    return urllib.parse.quote("\n".join(lines), safe="")


def decode_sshkeys(value: str) -> str:
    return urllib.parse.unquote(value or "")


def net0_value(bridge: str, vlan: int | None, model: str = "virtio", mac: str | None = None) -> str:
    head = f"{model}={mac}" if mac else model
    return f"{head},bridge={bridge}" + (f",tag={int(vlan)}" if vlan else "")


def mac_of(net_value: str) -> str | None:
    match = re.match(r"^\w+=([0-9A-Fa-f:]{17})", str(net_value or ""))
    return match.group(1) if match else None


def ipconfig0_value(address: str = "", cidr: str = "", gateway: str = "") -> str:
    """`ip=dhcp`, or `ip=A/prefix[,gw=G]` with the prefix from the network's CIDR."""
    if not address:
        return "ip=dhcp"
    ip = ipaddress.ip_address(address.split("/")[0])
    prefix = (
        address.split("/")[1]
        if "/" in address
        else (ipaddress.ip_network(cidr, strict=False).prefixlen if cidr else 32)
    )
    value = f"ip={ip}/{prefix}"
    return value + (f",gw={gateway}" if gateway else "")


def tags_value(tags: list[str]) -> str:
    """PVE tags: lower case, `;`-joined, each `[a-z0-9_][a-z0-9_+.-]*`."""
    clean = []
    for tag in tags:
        tag = re.sub(r"[^a-z0-9_+.\-]", "-", tag.lower()).lstrip("-+.")
        if tag and tag not in clean:
            clean.append(tag)
    return ";".join(clean)


def split_tags(value: str | None) -> list[str]:
    return [t for t in re.split(r"[;, ]+", value or "") if t]


# ---------------------------------------------------------------------- mutations (each returns a UPID or None)
def clone(
    client: ProxmoxClient,
    *,
    source_node: str,
    template_vmid: int,
    newid: int,
    name: str,
    full: bool,
    target: str | None,
    storage: str | None,
    pool: str | None,
    description: str,
) -> str:
    params = {"newid": int(newid), "name": name, "full": 1 if full else 0, "description": description}
    if target and target != source_node:
        params["target"] = target
    if storage and full:  # PVE refuses a storage for linked clones
        params["storage"] = storage
    if pool:
        params["pool"] = pool
    return client.post(f"nodes/{source_node}/qemu/{int(template_vmid)}/clone", **params)


def set_config(client: ProxmoxClient, node: str, vmid: int, **options) -> str | None:
    """Asynchronous config update (POST), so the change has a task and a log."""
    return client.post(f"nodes/{node}/qemu/{vmid}/config", **options)


def resize_disk(client: ProxmoxClient, node: str, vmid: int, disk: str, size_gib: int) -> str | None:
    return client.put(f"nodes/{node}/qemu/{vmid}/resize", disk=disk, size=f"{int(size_gib)}G")


def power(client: ProxmoxClient, node: str, vmid: int, action: str, **params) -> str:
    if action not in ("start", "stop", "shutdown", "reboot", "reset", "suspend", "resume"):
        raise ValueError(f"unknown power action {action}")
    return client.post(f"nodes/{node}/qemu/{vmid}/status/{action}", **params)


def destroy(client: ProxmoxClient, node: str, vmid: int) -> str:
    return client.delete(f"nodes/{node}/qemu/{vmid}", purge=1, **{"destroy-unreferenced-disks": 1})


def guest_addresses(client: ProxmoxClient, node: str, vmid: int) -> list[str] | None:
    """Non-loopback IPs reported by the guest agent, or None when the agent does not answer."""
    try:
        answer = client.get(f"nodes/{node}/qemu/{vmid}/agent/network-get-interfaces") or {}
    except ProxmoxError:
        return None
    addresses = []
    for iface in answer.get("result", []) if isinstance(answer, dict) else []:
        for addr in iface.get("ip-addresses", []) or []:
            ip = addr.get("ip-address", "")
            try:
                parsed = ipaddress.ip_address(ip)
            except ValueError:
                continue
            if not (parsed.is_loopback or parsed.is_link_local):
                addresses.append(ip)
    return addresses


# ---------------------------------------------------------------------- storage / ISO
def iso_storages(client: ProxmoxClient, node: str) -> list[str]:
    items = client.get(f"nodes/{node}/storage", content="iso", enabled=1) or []
    return [s["storage"] for s in items if s.get("active", 1)]


def storage_volumes(client: ProxmoxClient, node: str, storage: str, content: str = "iso") -> list[str]:
    return [v["volid"] for v in client.get(f"nodes/{node}/storage/{storage}/content", content=content) or []]


def upload_iso(client: ProxmoxClient, node: str, storage: str, filename: str, data: bytes) -> str | None:
    import io

    stream = io.BytesIO(data)
    stream.name = filename  # requests takes the multipart file name from here
    return client.post(f"nodes/{node}/storage/{storage}/upload", content="iso", filename=stream)


def delete_volume(client: ProxmoxClient, node: str, storage: str, volid: str) -> str | None:
    return client.delete(f"nodes/{node}/storage/{storage}/content/{urllib.parse.quote(volid, safe='')}")


# ---------------------------------------------------------------------- catalog
@dataclass
class TemplateInfo:
    vmid: int
    name: str
    node: str
    tags: list[str]
    cloud_init: bool
    disks: dict[str, int] = field(default_factory=dict)  # key -> bytes
    description: str = ""
    default_user: str = ""


def list_templates(client: ProxmoxClient) -> list[TemplateInfo]:
    """Templates from one `/cluster/resources?type=vm` call plus one config read each (for disks and cloud-init)."""
    out = []
    for item in cluster_vms(client):
        if not item.get("template"):
            continue
        node, vmid = item["node"], int(item["vmid"])
        try:
            config = vm_config(client, node, vmid)
        except NotFound:
            continue
        disks = {k: disk_size_bytes(v) for k, v in config.items() if _DISK_KEY.match(k) and "media=cdrom" not in str(v)}
        out.append(
            TemplateInfo(
                vmid=vmid,
                name=str(item.get("name") or config.get("name") or vmid),
                node=node,
                tags=split_tags(item.get("tags") or config.get("tags")),
                cloud_init=has_cloudinit_drive(config),
                disks=disks,
                description=str(config.get("description", "")),
                default_user=str(config.get("ciuser", "")),
            )
        )
    return out
