"""Result objects of a conversion: concerns, disk plans, per-VM migration plans, cluster plans."""

from __future__ import annotations

from dataclasses import dataclass, field

CRITICAL = "Critical"
WARNING = "Warning"
INFORMATION = "Information"
CATEGORIES = (CRITICAL, WARNING, INFORMATION)


@dataclass(frozen=True)
class Concern:
    """A Forklift-style finding: something that does not carry over 1:1."""

    id: str
    category: str
    label: str
    assessment: str
    path: str = ""

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "category": self.category,
            "label": self.label,
            "assessment": self.assessment,
            "path": self.path,
        }


@dataclass
class DiskPlan:
    """How one KubeVirt disk becomes one Proxmox disk."""

    name: str
    slot: str  # qm drive key: virtio0, scsi1, sata0 ...
    bus: str
    device: str  # disk | lun | cdrom
    source_type: str  # persistentVolumeClaim | dataVolume | containerDisk | emptyDisk | hostDisk | ephemeral ...
    source: str  # claim name, image, path ...
    origin: str | None  # DataVolume source (http URL, registry URL, datasource:ns/name, blank ...)
    size_bytes: int | None
    storage_class: str | None
    storage: str
    format: str
    action: str  # import | blank | none
    boot: bool = False
    template: dict | None = None
    commands: list[str] = field(default_factory=list)

    @property
    def size_gib(self) -> int | None:
        if self.size_bytes is None:
            return None
        return -(-self.size_bytes // (1 << 30))

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "slot": self.slot,
            "bus": self.bus,
            "device": self.device,
            "boot": self.boot,
            "source": {"type": self.source_type, "ref": self.source, "origin": self.origin},
            "sizeBytes": self.size_bytes,
            "sizeGiB": self.size_gib,
            "storageClass": self.storage_class,
            "targetStorage": self.storage,
            "format": self.format,
            "action": self.action,
            "template": self.template,
            "commands": list(self.commands),
        }


@dataclass
class MigrationPlan:
    """Everything needed to recreate one KubeVirt VM on Proxmox."""

    namespace: str
    name: str
    source: dict  # kind, apiVersion, file, document, path, uid, replica
    qm_config: dict
    cloud_init: dict | None
    capmox: list[dict]
    template_requirements: list[str]
    concerns: list[Concern]
    disks: list[DiskPlan]
    summary: dict
    source_doc: dict | None = None  # the (cleaned) input document, not rendered

    @property
    def file_stem(self) -> str:
        return f"{self.namespace or 'default'}_{self.name}"

    def has_critical(self) -> bool:
        return any(c.category == CRITICAL for c in self.concerns)

    def to_dict(self) -> dict:
        return {
            "kind": "MigrationPlan",
            "namespace": self.namespace,
            "name": self.name,
            "source": dict(self.source),
            "summary": dict(self.summary),
            "proxmox": {"config": dict(self.qm_config), "cloudInit": self.cloud_init},
            "capmox": list(self.capmox),
            "templateRequirements": list(self.template_requirements),
            "concerns": [c.to_dict() for c in self.concerns],
            "disks": [d.to_dict() for d in self.disks],
        }


@dataclass
class ClusterPlan:
    """A CAPK cluster rewritten for capmox: every object, in input order, Kubevirt* replaced."""

    namespace: str
    name: str
    objects: list[dict]
    concerns: list[Concern]
    source: dict

    @property
    def file_stem(self) -> str:
        return f"{self.namespace or 'default'}_{self.name}_cluster"

    def has_critical(self) -> bool:
        return any(c.category == CRITICAL for c in self.concerns)

    def to_dict(self) -> dict:
        return {
            "kind": "ClusterMigrationPlan",
            "namespace": self.namespace,
            "name": self.name,
            "source": dict(self.source),
            "objects": list(self.objects),
            "concerns": [c.to_dict() for c in self.concerns],
        }


@dataclass
class ConversionResult:
    plans: list[MigrationPlan]
    clusters: list[ClusterPlan]
    ignored: list[dict]  # documents that were neither VMs nor referenced objects
    rules_version: str

    def has_critical(self) -> bool:
        return any(p.has_critical() for p in self.plans) or any(c.has_critical() for c in self.clusters)

    def to_dict(self) -> dict:
        return {
            "rulesVersion": self.rules_version,
            "plans": [p.to_dict() for p in self.plans],
            "clusters": [c.to_dict() for c in self.clusters],
            "ignored": list(self.ignored),
        }
