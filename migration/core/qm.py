"""Native Proxmox VM configuration (``qm create/set`` parameter names -> values) for one VM."""

from __future__ import annotations

import base64
import re
from urllib.parse import quote

from .cloudinit import cloud_config_user
from .disks import safe_name
from .mappings import NetworkTarget
from .model import DiskPlan
from .vm import Nic, VmContext

PVE_NIC_MODELS = {
    "virtio": "virtio",
    "e1000": "e1000",
    "e1000e": "e1000e",
    "rtl8139": "rtl8139",
    "ne2k_pci": "ne2k_pci",
    "pcnet": "pcnet",
    "igb": "e1000e",  # QEMU in PVE has no igb model
}
_CPU_FLAGS = {"md-clear", "pcid", "spec-ctrl", "ssbd", "ibpb", "virt-ssbd", "amd-ssbd", "amd-no-ssb", "pdpe1gb", "aes"}
_TAG_BAD = re.compile(r"[^a-z0-9_+.-]+")
_NAME_BAD = re.compile(r"[^A-Za-z0-9.-]+")
MAX_QUEUES = 64


def pve_tag(text: str) -> str | None:
    tag = _TAG_BAD.sub("-", text.lower()).lstrip("-+.")
    return tag[:64] or None


def pve_name(text: str) -> str:
    return _NAME_BAD.sub("-", text).strip("-.")[:63] or "vm"


def network_target(ctx: VmContext, nic: Nic) -> tuple[NetworkTarget, bool]:
    """Bridge/VLAN for a NIC and whether the network map named it explicitly."""
    maps = ctx.mappings
    if nic.network_type == "pod":
        return (maps.pod, True) if maps.pod is not None else (maps.default_network, False)
    if nic.network_type == "multus" and nic.network_name:
        name = nic.network_name
        keys = [name] if "/" in name else [f"{ctx.source.namespace or 'default'}/{name}", name]
        if "/" in name:
            keys.append(name.split("/", 1)[1])
        for key in keys:
            if key in maps.networks:
                return maps.networks[key], True
    return maps.default_network, False


def tags_for(ctx: VmContext) -> list[str]:
    tags = ["kubevirt"]
    for candidate in (f"ns-{ctx.source.namespace or 'default'}", ctx.source.doc.kind.lower()):
        tag = pve_tag(candidate)
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def description_for(ctx: VmContext, rules_version: str) -> str:
    src = ctx.source
    doc = src.doc
    ident = f"{src.namespace or 'default'}/{doc.name or src.name}"
    lines = [f"Migrated from KubeVirt {doc.kind} {ident} ({doc.api_version or 'no apiVersion'})"]
    if src.replica is not None:
        lines.append(f"replica {src.replica} of the pool")
    if doc.uid:
        lines.append(f"uid {doc.uid}")
    lines.append(f"source {doc.source} document {doc.index + 1}{' ' + doc.path if doc.path else ''}")
    lines.append(f"kubevirt2proxmox rules {rules_version}")
    return "\n".join(lines)


def _cpu_type(ctx: VmContext) -> str:
    model = ctx.cpu.get("model") or "host-model"
    if model == "host-passthrough":
        value = "host"
    elif model == "host-model":
        value = "x86-64-v2-AES"
    else:
        value = model
    extras = []
    if ((ctx.domain.get("features") or {}).get("kvm") or {}).get("hidden"):
        extras.append("hidden=1")
    flags = []
    for feature in ctx.cpu.get("features") or []:
        name = feature.get("name") if isinstance(feature, dict) else None
        if name in _CPU_FLAGS:
            sign = "-" if feature.get("policy") in ("disable", "forbid") else "+"
            flags.append(f"{sign}{name}")
    if flags:
        extras.append("flags=" + ";".join(flags))
    return ",".join([value, *extras])


def _drive(plan: DiskPlan, ctx: VmContext, disk_by_name: dict) -> str:
    from .disks import import_path

    disk = disk_by_name.get(plan.name)
    if plan.device == "cdrom":
        return "none,media=cdrom"
    if plan.action == "blank":
        value = f"{plan.storage}:{max(plan.size_gib or 1, 1)}"
    elif plan.action == "import":
        value = f"{plan.storage}:0,import-from={import_path(ctx, plan)}"
    else:
        value = f"{plan.storage}:{max(plan.size_gib or 1, 1)}"
    attrs = []
    if plan.action == "import" and plan.format != "raw":
        attrs.append(f"format={plan.format}")
    if disk is not None:
        if disk.dedicated_io and plan.bus in ("virtio", "scsi"):
            attrs.append("iothread=1")
        if disk.cache in ("none", "writethrough", "writeback"):
            attrs.append(f"cache={disk.cache}")
        if disk.serial:
            attrs.append(f"serial={safe_name(disk.serial)[:20]}")
    if plan.size_gib:
        attrs.append(f"size={plan.size_gib}G")
    return ",".join([value, *attrs])


def build_config(ctx: VmContext, disks: list[DiskPlan], rules_version: str) -> tuple[dict, dict | None]:
    """Return (qm config, cloud-init section)."""
    maps = ctx.mappings
    small_storage = maps.efi_storage or maps.default_storage.storage
    config: dict = {
        "name": pve_name(ctx.source.name),
        "description": description_for(ctx, rules_version),
        "tags": ";".join(tags_for(ctx)),
        "ostype": ("win11" if ctx.tpm else "win10") if ctx.is_windows else "l26",
        "machine": "q35",
    }
    efi = ctx.efi
    if efi is not None:
        config["bios"] = "ovmf"
        keys = 1 if ctx.secure_boot else 0
        config["efidisk0"] = f"{small_storage}:1,efitype=4m,pre-enrolled-keys={keys}"
    else:
        config["bios"] = "seabios"
    if ctx.tpm is not None:
        config["tpmstate0"] = f"{small_storage}:1,version=v2.0"
    firmware = ctx.domain.get("firmware") or {}
    smbios = []
    if firmware.get("serial"):
        encoded = base64.b64encode(str(firmware["serial"]).encode()).decode()
        smbios += ["base64=1", f"serial={encoded}"]
    if firmware.get("uuid"):
        smbios.append(f"uuid={firmware['uuid']}")
    if smbios:
        config["smbios1"] = ",".join(smbios)
    config["cpu"] = _cpu_type(ctx)
    config["sockets"] = ctx.sockets
    config["cores"] = ctx.cores * ctx.threads
    if (ctx.cpu.get("numa") or {}).get("guestMappingPassthrough") is not None or ctx.it("cpu", "numa"):
        config["numa"] = 1
    page = (ctx.memory.get("hugepages") or {}).get("pageSize") or (ctx.it("memory", "hugepages") or {}).get("pageSize")
    if page:
        config["hugepages"] = "1024" if page == "1Gi" else "2"
    config["memory"] = ctx.memory_mib
    balloon_device = ctx.devices.get("autoattachMemBalloon")
    if balloon_device is None:
        balloon_device = ctx.pref("devices", "preferredAutoattachMemBalloon")
    if balloon_device is False:
        config["balloon"] = 0
    else:
        config["balloon"] = ctx.request_mib if ctx.request_mib is not None else ctx.memory_mib
    config["scsihw"] = "virtio-scsi-single"
    disk_by_name = {d.name: d for d in ctx.disks}
    for plan in disks:
        config[plan.slot] = _drive(plan, ctx, disk_by_name)
    cloud = ctx.cloud_init
    needs_cloud_init = cloud is not None or bool(ctx.ssh.keys)
    if needs_cloud_init:
        config["ide2"] = f"{small_storage}:cloudinit"
    boot = _boot_order(ctx, disks)
    if boot:
        config["boot"] = boot
    network = cloud.network if cloud and cloud.network_data else None
    queues = min(ctx.vcpus, MAX_QUEUES) if ctx.multiqueue else None
    for nic in ctx.nics:
        target, _mapped = network_target(ctx, nic)
        model = PVE_NIC_MODELS.get(nic.model, "virtio")
        parts = [f"{model}={nic.mac}" if nic.mac else model, f"bridge={target.bridge}"]
        if target.vlan is not None:
            parts.append(f"tag={target.vlan}")
        if target.mtu is not None:
            parts.append(f"mtu={target.mtu}")
        if queues and queues > 1:
            parts.append(f"queues={queues}")
        if nic.state == "down":
            parts.append("link_down=1")
        config[f"net{nic.index}"] = ",".join(parts)
    if needs_cloud_init:
        for nic in ctx.nics:
            value = network.by_index.get(nic.index) if network else None
            config[f"ipconfig{nic.index}"] = value or "ip=dhcp"
    section = None
    if cloud is not None:
        user = cloud_config_user(cloud.user_data)
        if user:
            config["ciuser"] = user
    if ctx.ssh.keys:
        config["sshkeys"] = quote("\n".join(ctx.ssh.keys), safe="")
    if cloud is not None:
        config["citype"] = "nocloud" if cloud.kind == "nocloud" else "configdrive2"
        snippet = f"{safe_name(ctx.source.namespace or 'default')}_{safe_name(ctx.source.name)}-user-data.yaml"
        if cloud.user_data is not None or cloud.user_data_base64 is not None:
            config["cicustom"] = f"user={maps.snippets_storage}:snippets/{snippet}"
        section = {
            "type": cloud.kind,
            "userData": cloud.user_data,
            "userDataBase64": cloud.user_data_base64,
            "userDataSource": cloud.user_source,
            "networkData": cloud.network_data,
            "networkDataSource": cloud.network_source,
            "snippet": f"{maps.snippets_storage}:snippets/{snippet}",
            "volume": cloud.volume,
        }
    config["agent"] = 1
    config["onboot"] = 1 if ctx.run_strategy in ("Always", "RerunOnFailure") else 0
    grace = ctx.vmi.get("terminationGracePeriodSeconds")
    if grace is None:
        grace = (ctx.preference or {}).get("preferredTerminationGracePeriodSeconds")
    if isinstance(grace, int) and grace > 0:
        config["startup"] = f"down={grace}"
    if ctx.devices.get("autoattachSerialConsole") is not False:
        config["serial0"] = "socket"
    video = (ctx.devices.get("video") or {}).get("type") or ctx.pref("devices", "preferredVideoType")
    if ctx.devices.get("autoattachGraphicsDevice") is False:
        config["vga"] = "serial0" if "serial0" in config else "none"
    elif video == "virtio":
        config["vga"] = "virtio"
    else:
        config["vga"] = "std"
    inputs = ctx.devices.get("inputs") or []
    if (
        any(isinstance(i, dict) and i.get("type") == "tablet" for i in inputs)
        or ctx.pref("devices", "preferredInputType") == "tablet"
    ):
        config["tablet"] = 1
    if ctx.devices.get("rng") is not None or ctx.pref("devices", "preferredRng") is not None:
        config["rng0"] = "source=/dev/urandom"
    watchdog = ctx.devices.get("watchdog")
    if isinstance(watchdog, dict) and watchdog.get("i6300esb") is not None:
        action = (watchdog.get("i6300esb") or {}).get("action") or "reset"
        config["watchdog"] = f"model=i6300esb,action={action}"
    return config, section


def _boot_order(ctx: VmContext, disks: list[DiskPlan]) -> str:
    by_name = {p.name: p for p in disks}
    ordered: list[tuple[int, str]] = []
    for disk in ctx.disks:
        plan = by_name.get(disk.name)
        if plan is not None and disk.boot_order is not None:
            ordered.append((disk.boot_order, plan.slot))
    for nic in ctx.nics:
        if nic.boot_order is not None:
            ordered.append((nic.boot_order, f"net{nic.index}"))
    if ordered:
        return "order=" + ";".join(slot for _order, slot in sorted(ordered))
    boot = next((p.slot for p in disks if p.boot), None)
    if boot:
        return f"order={boot}"
    return "order=net0" if ctx.nics else ""
