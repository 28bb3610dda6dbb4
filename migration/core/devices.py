"""Disks and NICs of a VM with KubeVirt's implicit defaults applied (default disk bus, pod network, MACs)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import InputError

if TYPE_CHECKING:
    from .vm import VmContext


@dataclass
class Disk:
    name: str
    path: str  # of the disk entry (or of the volume when the disk was defaulted)
    device: str  # disk | lun | cdrom
    bus: str
    volume: dict | None
    volume_path: str
    volume_type: str | None
    boot_order: int | None = None
    dedicated_io: bool = False
    serial: str | None = None
    cache: str | None = None
    defaulted: bool = False

    @property
    def is_cloud_init(self) -> bool:
        return self.volume_type in ("cloudInitNoCloud", "cloudInitConfigDrive")


@dataclass
class Nic:
    index: int
    name: str
    path: str
    network: dict | None
    network_type: str | None  # pod | multus | None
    network_name: str | None
    binding: str
    model: str
    mac: str | None
    state: str | None
    boot_order: int | None
    autoattached: bool = False


_VOLUME_TYPES = (
    "containerDisk",
    "persistentVolumeClaim",
    "dataVolume",
    "ephemeral",
    "emptyDisk",
    "hostDisk",
    "cloudInitNoCloud",
    "cloudInitConfigDrive",
    "sysprep",
    "configMap",
    "secret",
    "serviceAccount",
    "downwardAPI",
    "downwardMetrics",
    "memoryDump",
)


def volume_type(volume: dict) -> str | None:
    for key in _VOLUME_TYPES:
        if volume.get(key) is not None:
            return key
    return None


def collect_disks(ctx: VmContext) -> None:
    """Disks in device order, then KubeVirt's defaulted disks for volumes without one."""
    volumes_list = ctx.vmi.get("volumes") or []
    volumes: dict[str, tuple[int, dict]] = {}
    for i, vol in enumerate(volumes_list):
        if isinstance(vol, dict) and isinstance(vol.get("name"), str):
            volumes.setdefault(vol["name"], (i, vol))
    default_bus = ctx.pref("devices", "preferredDiskBus") or ("sata" if ctx.arch == "amd64" else "virtio")
    cdrom_bus = ctx.pref("devices", "preferredCdromBus") or "sata"
    lun_bus = ctx.pref("devices", "preferredLunBus") or "scsi"
    dedicated_default = bool(ctx.pref("devices", "preferredDiskDedicatedIoThread"))
    used: set[str] = set()
    for i, disk in enumerate(ctx.devices.get("disks") or []):
        if not isinstance(disk, dict):
            continue
        name = disk.get("name", "")
        path = ctx.path(f"domain.devices.disks[{i}]")
        if disk.get("cdrom") is not None:
            device, bus = "cdrom", disk["cdrom"].get("bus") or cdrom_bus
        elif disk.get("lun") is not None:
            device, bus = "lun", disk["lun"].get("bus") or lun_bus
        else:
            device, bus = "disk", (disk.get("disk") or {}).get("bus") or default_bus
        found = volumes.get(name)
        if found is None:
            ctx.note("missing_volume", (name, path))
        used.add(name)
        vol_index, vol = found if found else (-1, None)
        dedicated = disk.get("dedicatedIOThread")
        ctx.disks.append(
            Disk(
                name=name,
                path=path,
                device=device,
                bus=bus,
                volume=vol,
                volume_path=ctx.path(f"volumes[{vol_index}]") if vol else path,
                volume_type=volume_type(vol) if vol else None,
                boot_order=disk.get("bootOrder"),
                dedicated_io=dedicated_default if dedicated is None else bool(dedicated),
                serial=disk.get("serial"),
                cache=disk.get("cache"),
            )
        )
    filesystems = {fs.get("name") for fs in ctx.devices.get("filesystems") or [] if isinstance(fs, dict)}
    for name, (vol_index, vol) in volumes.items():
        if name in used or name in filesystems:
            continue
        kind = volume_type(vol)
        if kind in ("downwardMetrics", "memoryDump"):
            continue
        # KubeVirt adds `disk: {}` for every volume without a disk; the bus then comes from the defaults
        path = ctx.path(f"volumes[{vol_index}]")
        ctx.disks.append(
            Disk(
                name,
                path,
                "disk",
                default_bus,
                vol,
                path,
                kind,
                dedicated_io=dedicated_default,
                defaulted=True,
            )
        )


def collect_nics(ctx: VmContext) -> None:
    """NICs in interface order; the pod network is auto-attached when nothing is declared."""
    networks: dict[str, tuple[int, dict]] = {}
    for i, net in enumerate(ctx.vmi.get("networks") or []):
        if isinstance(net, dict) and isinstance(net.get("name"), str):
            networks.setdefault(net["name"], (i, net))
    interfaces = [i for i in ctx.devices.get("interfaces") or [] if isinstance(i, dict)]
    default_model = ctx.pref("devices", "preferredInterfaceModel") or "virtio"
    mac_annotation = _mac_annotation(ctx.annotations)
    autoattach = ctx.devices.get("autoattachPodInterface")
    if not interfaces and not networks and autoattach is not False:
        ctx.nics.append(
            Nic(0, "default", ctx.path("domain.devices"), {"name": "default", "pod": {}}, "pod", None,
                "bridge", default_model, None, None, None, autoattached=True)
        )  # fmt: skip
        return
    if not interfaces:
        interfaces = [{"name": name, "bridge": {}} for name in networks]
    index = 0
    for i, iface in enumerate(interfaces):
        path = ctx.path(f"domain.devices.interfaces[{i}]")
        if iface.get("state") == "absent":
            continue
        name = iface.get("name", "")
        found = networks.get(name)
        network = found[1] if found else None
        if found is None:
            ctx.note("missing_network", (name, path))
        network_type = network_name = None
        if network is not None:
            if network.get("pod") is not None:
                network_type = "pod"
            elif network.get("multus") is not None:
                network_type = "multus"
                network_name = network["multus"].get("networkName")
        binding = "bridge"
        for key in ("masquerade", "bridge", "sriov", "slirp", "macvtap", "passt", "passtBinding"):
            if iface.get(key) is not None:
                binding = key
                break
        else:
            if isinstance(iface.get("binding"), dict):
                binding = str(iface["binding"].get("name") or "plugin")
        mac = iface.get("macAddress") or mac_annotation.get(name)
        if mac is not None:
            mac = _normalise_mac(mac, f"{path}.macAddress")
        ctx.nics.append(
            Nic(index, name, path, network, network_type, network_name, binding,
                iface.get("model") or default_model, mac, iface.get("state"), iface.get("bootOrder"))
        )  # fmt: skip
        index += 1


def _mac_annotation(annotations: dict) -> dict[str, str]:
    """Harvester records fixed MACs per interface in ``harvesterhci.io/mac-address``."""
    raw = annotations.get("harvesterhci.io/mac-address")
    if not isinstance(raw, str) or len(raw) > 65536:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def _normalise_mac(mac: str, path: str) -> str:
    parts = mac.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise InputError(f'invalid MAC address "{mac[:40]}"', path)
    return ":".join(parts).upper()
