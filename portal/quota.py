"""Quota usage: running resources plus everything approved or pending counts against the tenant."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, F, Sum

from .models import QUOTA_RESOURCES, ClusterRequest, NodeGroup, Quota, Tenant, VMRequest
from .states import QUOTA_HOLDING_STATES

HOLDING = sorted(QUOTA_HOLDING_STATES)
KEYS = [key for key, _, _ in QUOTA_RESOURCES]


class QuotaExceeded(Exception):
    """The order does not fit. `errors` maps a resource to a message the user can act on."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class Usage:
    vcpus: int = 0
    memory_mib: int = 0
    disk_gib: int = 0
    vms: int = 0
    clusters: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(**{k: getattr(self, k) + getattr(other, k) for k in self.__dataclass_fields__})

    def as_quota_units(self) -> dict[str, float]:
        return {
            "vcpus": self.vcpus,
            "memory_gib": self.memory_mib / 1024,
            "disk_gib": self.disk_gib,
            "vms": self.vms,
            "clusters": self.clusters,
        }


def vm_usage(vm: VMRequest) -> Usage:
    return Usage(vcpus=vm.sockets * vm.cores, memory_mib=vm.memory_mib, disk_gib=vm.disk_gib, vms=1)


def cluster_usage(node_groups) -> Usage:
    """Workers count at their maximum: the autoscaler may grow a group to it without asking again."""
    total = Usage(clusters=1)
    for g in node_groups:
        total += Usage(
            vcpus=g.sockets * g.cores * g.max_replicas,
            memory_mib=g.memory_mib * g.max_replicas,
            disk_gib=g.disk_gib * g.max_replicas,
        )
    return total


def usage_by_tenant(tenant_ids) -> dict[int, Usage]:
    """Usage of many tenants in three queries, whatever their number."""
    tenant_ids = list(tenant_ids)
    result = {tid: Usage() for tid in tenant_ids}
    vms = (
        VMRequest.objects.filter(tenant_id__in=tenant_ids, state__in=HOLDING)
        .values("tenant_id")
        .annotate(
            vcpus=Sum(F("sockets") * F("cores")),
            memory=Sum("memory_mib"),
            disk=Sum("disk_gib"),
            n=Count("id"),
        )
    )
    for row in vms:
        result[row["tenant_id"]] += Usage(
            vcpus=row["vcpus"] or 0, memory_mib=row["memory"] or 0, disk_gib=row["disk"] or 0, vms=row["n"]
        )
    groups = (
        NodeGroup.objects.filter(cluster__tenant_id__in=tenant_ids, cluster__state__in=HOLDING)
        .values("cluster__tenant_id")
        .annotate(
            vcpus=Sum(F("sockets") * F("cores") * F("max_replicas")),
            memory=Sum(F("memory_mib") * F("max_replicas")),
            disk=Sum(F("disk_gib") * F("max_replicas")),
        )
    )
    for row in groups:
        result[row["cluster__tenant_id"]] += Usage(
            vcpus=row["vcpus"] or 0, memory_mib=row["memory"] or 0, disk_gib=row["disk"] or 0
        )
    clusters = (
        ClusterRequest.objects.filter(tenant_id__in=tenant_ids, state__in=HOLDING)
        .values("tenant_id")
        .annotate(n=Count("id"))
    )
    for row in clusters:
        result[row["tenant_id"]] += Usage(clusters=row["n"])
    return result


def tenant_usage(tenant: Tenant) -> Usage:
    return usage_by_tenant([tenant.pk])[tenant.pk]


def quota_of(tenant: Tenant) -> Quota:
    quota = getattr(tenant, "quota", None) if hasattr(tenant, "_state") else None
    if quota is None:
        quota, _ = Quota.objects.get_or_create(tenant=tenant)
    return quota


@dataclass
class QuotaLine:
    key: str
    label: str
    unit: str
    limit: float
    used: float
    adding: float = 0
    warn_percent: int = 80
    extra: dict = field(default_factory=dict)

    @property
    def after(self) -> float:
        return self.used + self.adding

    @property
    def left_after(self) -> float:
        return self.limit - self.after

    @property
    def percent_used(self) -> int:
        return (
            100 if self.limit <= 0 and self.used > 0 else int(round(100 * self.used / self.limit)) if self.limit else 0
        )

    @property
    def percent_after(self) -> int:
        if self.limit <= 0:
            return 100 if self.after > 0 else 0
        return int(round(100 * self.after / self.limit))

    @property
    def exceeds(self) -> bool:
        return self.after > self.limit

    @property
    def warns(self) -> bool:
        return not self.exceeds and self.percent_after >= self.warn_percent

    @property
    def level(self) -> str:
        return "over" if self.exceeds else "warn" if self.warns else "ok"


def quota_lines(quota: Quota, used: Usage, adding: Usage | None = None) -> list[QuotaLine]:
    used_units = used.as_quota_units()
    adding_units = (adding or Usage()).as_quota_units()
    return [
        QuotaLine(
            key=key,
            label=label,
            unit=unit,
            limit=getattr(quota, key),
            used=used_units[key],
            adding=adding_units[key],
            warn_percent=quota.warn_percent,
        )
        for key, label, unit in QUOTA_RESOURCES
    ]


def check_fits(quota: Quota, used: Usage, adding: Usage) -> None:
    errors = {}
    for line in quota_lines(quota, used, adding):
        if line.adding and line.exceeds:
            unit = f" {line.unit}" if line.unit else ""
            errors[line.key] = (
                f"{line.label}: this order needs {fmt(line.adding)}{unit} but only "
                f"{fmt(max(line.limit - line.used, 0))}{unit} of {fmt(line.limit)}{unit} is left."
            )
    if errors:
        raise QuotaExceeded(errors)


def below_warn(quota: Quota, used: Usage, adding: Usage) -> bool:
    return all(not line.warns and not line.exceeds for line in quota_lines(quota, used, adding))


def fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
