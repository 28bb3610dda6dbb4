"""Per-disk migration plans: Proxmox slot, size, target storage and the ordered commands to move the data."""

from __future__ import annotations

import json
import re
import shlex

from .mappings import StorageTarget
from .model import DiskPlan
from .quantity import parse_quantity
from .vm import Disk, VmContext

_BUS_LIMITS = {"virtio": 16, "scsi": 31, "sata": 6}
_FILE_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ORIGIN_KEYS = ("http", "registry", "s3", "gcs", "imageio", "vddk")


def safe_name(text: str) -> str:
    return _FILE_SAFE.sub("_", text).strip("_") or "x"


def _size_of(quantity: object, path: str) -> int | None:
    if quantity is None:
        return None
    return int(parse_quantity(quantity, path).__ceil__())


class SlotAllocator:
    """Hands out qm drive keys per bus; overflowing buses fall back to SCSI."""

    def __init__(self) -> None:
        self.next = {"virtio": 0, "scsi": 0, "sata": 0}

    def take(self, bus: str) -> str:
        if bus not in self.next or self.next[bus] >= _BUS_LIMITS[bus]:
            bus = "scsi"
        slot = f"{bus}{self.next[bus]}"
        self.next[bus] += 1
        return slot


def _storage_info(ctx: VmContext, disk: Disk) -> tuple[int | None, str | None, str | None, str]:
    """(size bytes, storage class, origin, claim) for PVC/DataVolume backed disks."""
    vol = disk.volume or {}
    kind = disk.volume_type
    if kind == "dataVolume":
        claim = vol["dataVolume"].get("name", "")
    elif kind == "persistentVolumeClaim":
        claim = vol["persistentVolumeClaim"].get("claimName", "")
    elif kind == "ephemeral":
        claim = ((vol["ephemeral"].get("persistentVolumeClaim") or {}).get("claimName")) or ""
    else:
        return None, None, None, ""
    ns = ctx.source.namespace
    dv_spec = None
    dv_path = ""
    for i, dvt in enumerate((ctx.source.vm_spec or {}).get("dataVolumeTemplates") or []):
        if isinstance(dvt, dict) and (dvt.get("metadata") or {}).get("name") == claim:
            dv_spec, dv_path = dvt.get("spec") or {}, f"{ctx.source.vm_path}.dataVolumeTemplates[{i}].spec"
            break
    if dv_spec is None:
        dv_doc = ctx.inventory.get("DataVolume", ns, claim)
        if dv_doc is not None:
            dv_spec, dv_path = dv_doc.body.get("spec") or {}, "spec"
    if dv_spec is not None:
        storage = dv_spec.get("storage") or dv_spec.get("pvc") or {}
        section = "storage" if dv_spec.get("storage") is not None else "pvc"
        size = _size_of(
            ((storage.get("resources") or {}).get("requests") or {}).get("storage"),
            f"{dv_path}.{section}.resources.requests.storage",
        )
        return size, storage.get("storageClassName"), _origin(dv_spec, ns), claim
    pvc = ctx.inventory.get("PersistentVolumeClaim", ns, claim)
    if pvc is not None:
        spec = pvc.body.get("spec") if isinstance(pvc.body.get("spec"), dict) else {}
        resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
        requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
        try:
            size = _size_of(requests.get("storage"), "spec.resources.requests.storage")
        except ValueError:
            size = None
        storage_class = spec.get("storageClassName") if isinstance(spec.get("storageClassName"), str) else None
        return size, storage_class, None, claim
    for entry in _harvester_claims(ctx):
        meta = entry.get("metadata") if isinstance(entry.get("metadata"), dict) else {}
        if meta.get("name") != claim:
            continue
        spec = entry.get("spec") if isinstance(entry.get("spec"), dict) else {}
        resources = spec.get("resources") if isinstance(spec.get("resources"), dict) else {}
        requests = resources.get("requests") if isinstance(resources.get("requests"), dict) else {}
        try:
            size = _size_of(requests.get("storage"), "metadata.annotations")
        except ValueError:
            size = None
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        image = annotations.get("harvesterhci.io/imageId")
        storage_class = spec.get("storageClassName") if isinstance(spec.get("storageClassName"), str) else None
        return size, storage_class, f"harvester-image:{image}" if isinstance(image, str) else None, claim
    return None, None, None, claim


def _harvester_claims(ctx: VmContext) -> list[dict]:
    raw = (ctx.source.metadata.get("annotations") or {}).get("harvesterhci.io/volumeClaimTemplates")
    if not isinstance(raw, str) or len(raw) > 1 << 20:
        return []
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    return [e for e in data if isinstance(e, dict)] if isinstance(data, list) else []


def _origin(dv_spec: dict, namespace: str) -> str | None:
    ref = dv_spec.get("sourceRef")
    if isinstance(ref, dict) and ref.get("name"):
        return f"datasource:{ref.get('namespace') or namespace}/{ref['name']}"
    source = dv_spec.get("source") or {}
    for key in _ORIGIN_KEYS:
        if isinstance(source.get(key), dict) and source[key].get("url"):
            return str(source[key]["url"])
    if isinstance(source.get("pvc"), dict):
        return f"pvc:{source['pvc'].get('namespace', namespace)}/{source['pvc'].get('name', '')}"
    if isinstance(source.get("snapshot"), dict):
        return f"snapshot:{source['snapshot'].get('namespace', namespace)}/{source['snapshot'].get('name', '')}"
    for key in ("blank", "upload"):
        if source.get(key) is not None:
            return key
    return None


def storage_for(ctx: VmContext, storage_class: str | None) -> tuple[StorageTarget, bool]:
    """(target, explicitly mapped?) for a storage class."""
    mapped = ctx.mappings.storage_classes.get(storage_class) if storage_class else None
    if mapped is not None:
        return mapped, True
    return ctx.mappings.default_storage, False


def template_for(ctx: VmContext, origin: str | None) -> tuple[dict, bool]:
    target = ctx.mappings.templates.get(origin) if origin else None
    if target is not None:
        return target.capmox_fields(), True
    return ctx.mappings.default_template.capmox_fields(), False


def plan_disks(ctx: VmContext) -> list[DiskPlan]:
    allocator = SlotAllocator()
    boot = ctx.boot_disk
    plans: list[DiskPlan] = []
    ns = ctx.source.namespace or "default"
    stopped = False  # the source VM is stopped once, before the first export
    for disk in ctx.disks:
        if disk.is_cloud_init or disk.volume is None:
            continue
        kind = disk.volume_type or "unknown"
        vol = disk.volume
        bus = disk.bus
        if disk.device == "lun" or bus == "usb":
            bus = "scsi"
        slot = allocator.take(bus)
        size, storage_class, origin, claim = _storage_info(ctx, disk)
        ref = claim
        if kind == "containerDisk":
            ref = vol["containerDisk"].get("image", "")
            origin = ref
        elif kind == "emptyDisk":
            size = _size_of(vol["emptyDisk"].get("capacity"), f"{disk.volume_path}.emptyDisk.capacity")
        elif kind == "hostDisk":
            ref = vol["hostDisk"].get("path", "")
            size = _size_of(vol["hostDisk"].get("capacity"), f"{disk.volume_path}.hostDisk.capacity")
        elif kind not in ("persistentVolumeClaim", "dataVolume", "ephemeral"):
            ref = vol[kind].get("name", "") if isinstance(vol.get(kind), dict) else ""
        target, mapped = storage_for(ctx, storage_class)
        if not mapped and kind in (
            "persistentVolumeClaim",
            "dataVolume",
            "ephemeral",
            "containerDisk",
            "emptyDisk",
        ):
            ctx.note("storage_unmapped", (storage_class, target.storage, disk.volume_path))
        if kind in ("persistentVolumeClaim", "dataVolume", "ephemeral", "hostDisk", "containerDisk"):
            action = "import"
        elif kind == "emptyDisk":
            action = "blank"
        else:
            action = "none"
        if disk.device == "cdrom":
            action = "none"
        if size is None and action in ("import", "blank") and kind != "containerDisk":
            ctx.note("disk_size_unknown", (disk.name, disk.volume_path))
        template = None
        if disk is boot:
            template, found = template_for(ctx, origin)
            if not found:
                ctx.note("template_unmapped", (origin, disk.volume_path))
        plan = DiskPlan(
            name=disk.name,
            slot=slot,
            bus=slot.rstrip("0123456789"),
            device=disk.device,
            source_type=kind,
            source=ref,
            origin=origin,
            size_bytes=size,
            storage_class=storage_class,
            storage=target.storage,
            format=target.format,
            action=action,
            boot=disk is boot,
            template=template,
        )
        plan.commands = _commands(ctx, disk, plan, ns, stop_source=not stopped)
        stopped = stopped or any(c.startswith("virtctl stop") for c in plan.commands)
        plans.append(plan)
    return plans


def import_path(ctx: VmContext, plan: DiskPlan) -> str:
    ns = ctx.source.namespace or "default"
    return f"{ctx.mappings.import_dir}/{safe_name(ns)}_{safe_name(ctx.source.name)}_{safe_name(plan.name)}.raw"


def _commands(ctx: VmContext, disk: Disk, plan: DiskPlan, ns: str, stop_source: bool) -> list[str]:
    """Ordered shell commands; every value from the input is shell-quoted."""
    if plan.action != "import":
        return []
    q = shlex.quote
    target = import_path(ctx, plan)
    local = target.rsplit("/", 1)[1]
    node = ctx.mappings.node
    commands: list[str] = []
    if plan.source_type in ("persistentVolumeClaim", "dataVolume", "ephemeral"):
        if stop_source and ctx.source.doc.kind == "VirtualMachine":
            commands.append(f"virtctl stop {q(ctx.source.name)} --namespace {q(ns)}")
        export = safe_name(f"k2p-{ctx.source.name}-{plan.name}")[:63].lower().replace("_", "-")
        commands.append(
            f"virtctl vmexport download {export} --namespace {q(ns)} --pvc {q(plan.source)}"
            f" --format raw --output {local}"
        )
    elif plan.source_type == "containerDisk":
        container = safe_name(f"k2p-{ctx.source.name}-{plan.name}").lower()
        inner = (disk.volume or {}).get("containerDisk", {}).get("path") or "/disk"
        commands += [
            f"podman pull {q(plan.source)}",
            f"podman create --name {container} {q(plan.source)} /",
            f"podman cp {q(container + ':' + inner)} ./{container}",
            f"podman rm {container}",
            f'qemu-img convert -O raw "$(find ./{container} -type f | head -n 1)" {local}',
        ]
    elif plan.source_type == "hostDisk":
        host = (ctx.vmi.get("nodeSelector") or {}).get("kubernetes.io/hostname", "KUBERNETES_NODE")
        commands.append(f"scp {q('root@' + str(host) + ':' + plan.source)} {local}")
    commands.append(f"scp {local} root@{node}:{target}")
    commands.append(f"qm set $VMID --{plan.slot} {plan.storage}:0,import-from={target}")
    if plan.size_gib:
        commands.append(f"qm disk resize $VMID {plan.slot} {plan.size_gib}G")
    return commands
