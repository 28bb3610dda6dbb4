"""Core domain: tenants, members, quotas, the catalog, VM and cluster requests, audit."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .states import NAME_HOLDING_STATES, State, colour, is_final

TENANT_SLUG_RE = r"^[a-z0-9]{1,32}$"
DNS_LABEL_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"

tenant_slug_validator = RegexValidator(
    TENANT_SLUG_RE,
    "Use 1-32 lowercase letters and digits only (no dashes), as Cozystack tenant names require.",
)
dns_label_validator = RegexValidator(
    DNS_LABEL_RE,
    "Use a DNS-1123 label: lowercase letters, digits and dashes, starting and ending with a letter or digit, "
    "at most 63 characters.",
)


class Role(models.TextChoices):
    VIEW = "view", "View"
    USE = "use", "Use"
    ADMIN = "admin", "Admin"


ROLE_RANK = {Role.VIEW: 1, Role.USE: 2, Role.ADMIN: 3}


class RunStrategy(models.TextChoices):
    ALWAYS = "Always", "Always running"
    HALTED = "Halted", "Created stopped"
    MANUAL = "Manual", "Manual"
    RERUN_ON_FAILURE = "RerunOnFailure", "Restart on failure"


class Origin(models.TextChoices):
    PORTAL = "portal", "Portal order"
    API = "api", "API order"
    MIGRATION = "migration", "KubeVirt migration"
    SELFTEST = "selftest", "Platform self-test"


class ProxmoxEndpoint(models.Model):
    """A Proxmox VE cluster the portal provisions into. The token secret is never stored here."""

    name = models.SlugField(max_length=64, unique=True)
    api_url = models.URLField(help_text="Base URL, e.g. https://pve.example.com:8006 (no /api2/json).")
    token_id = models.CharField(
        max_length=128,
        validators=[RegexValidator(r"^[^@\s]+@[^!\s]+![A-Za-z][A-Za-z0-9._-]*$", "Use user@realm!tokenname.")],
    )
    secret_env = models.CharField(
        max_length=128, blank=True, help_text="Name of the environment variable holding the token secret."
    )
    secret_file = models.CharField(
        max_length=512,
        blank=True,
        help_text="Path of a file holding the token secret (alternative to the env).",
    )
    verify_tls = models.BooleanField(default=True)
    ca_bundle = models.CharField(max_length=512, blank=True, help_text="PEM CA bundle path; empty = system CAs.")
    vmid_range_start = models.PositiveIntegerField(default=100000, validators=[MinValueValidator(100)])
    vmid_range_end = models.PositiveIntegerField(default=199999, validators=[MaxValueValidator(999999999)])
    iso_storage = models.CharField(max_length=64, blank=True, help_text="Storage for cloud-init ISOs; empty = auto.")
    is_default = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.vmid_range_end < self.vmid_range_start:
            raise ValidationError({"vmid_range_end": "The VMID range ends before it starts."})
        if not (self.secret_env or self.secret_file):
            raise ValidationError("Set secret_env or secret_file: the token secret is never stored in the database.")

    def token_secret(self) -> str:
        """Read the secret at the moment of use, from the environment or a file."""
        if self.secret_env and os.environ.get(self.secret_env):
            return os.environ[self.secret_env]
        if self.secret_file:
            return Path(self.secret_file).read_text().strip()
        if settings.PORTAL_SECRETS_FILE:
            data = json.loads(Path(settings.PORTAL_SECRETS_FILE).read_text())
            if self.name in data:
                return data[self.name]
        raise ValidationError(f"No token secret available for Proxmox endpoint {self.name!r}.")

    @property
    def verify(self) -> bool | str:
        """What requests/proxmoxer take as `verify`."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True


class TenantQuerySet(models.QuerySet):
    def for_user(self, user, min_role: str = Role.VIEW):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        roles = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[min_role]]
        return self.filter(memberships__user=user, memberships__role__in=roles)


class Tenant(models.Model):
    slug = models.CharField(max_length=32, unique=True, validators=[tenant_slug_validator])
    name = models.CharField(max_length=128)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    endpoint = models.ForeignKey(ProxmoxEndpoint, null=True, blank=True, on_delete=models.SET_NULL)
    allowed_nodes = models.JSONField(default=list, blank=True, help_text="Proxmox nodes; empty = any node.")
    resource_pool = models.CharField(max_length=64, blank=True)
    storage = models.CharField(max_length=64, blank=True, help_text="Target storage for disks.")
    full_clone = models.BooleanField(default=True)
    vmid_range_start = models.PositiveIntegerField(null=True, blank=True)
    vmid_range_end = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TenantQuerySet.as_manager()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def namespace(self) -> str:
        return f"tenant-{self.slug}"

    def effective_endpoint(self) -> ProxmoxEndpoint | None:
        """The tenant's endpoint, else the default one, else the only enabled one."""
        if self.endpoint_id:
            return self.endpoint
        enabled = ProxmoxEndpoint.objects.filter(enabled=True)
        return enabled.filter(is_default=True).first() or (enabled.first() if enabled.count() == 1 else None)

    def ancestors(self) -> list[Tenant]:
        chain, node, seen = [], self.parent, {self.pk}
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain

    def clean(self):
        if self.parent_id and self.pk and self.pk in {t.pk for t in self.parent.ancestors()} | {self.parent_id}:
            raise ValidationError({"parent": "A tenant cannot be its own ancestor."})
        if (self.vmid_range_start is None) != (self.vmid_range_end is None):
            raise ValidationError("Set both ends of the VMID range or neither.")
        if self.vmid_range_start is not None and self.vmid_range_end < self.vmid_range_start:
            raise ValidationError({"vmid_range_end": "The VMID range ends before it starts."})


class TenantNetwork(models.Model):
    """A bridge/VLAN the tenant may attach VMs to, with its address range for static IPs and clusters."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="networks")
    name = models.CharField(max_length=64)
    bridge = models.CharField(max_length=32, validators=[RegexValidator(r"^[A-Za-z][A-Za-z0-9_.-]{0,31}$")])
    vlan = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(4094)]
    )
    cidr = models.CharField(max_length=64, blank=True, help_text="e.g. 10.20.0.0/24; empty = DHCP only.")
    gateway = models.GenericIPAddressField(null=True, blank=True)
    ip_range_start = models.GenericIPAddressField(null=True, blank=True)
    ip_range_end = models.GenericIPAddressField(null=True, blank=True)
    dns_servers = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["tenant", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="uniq_tenant_network_name")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"{self.name} ({self.bridge}{f', VLAN {self.vlan}' if self.vlan else ''})"

    @property
    def network(self) -> ipaddress.IPv4Network | None:
        return ipaddress.ip_network(self.cidr, strict=False) if self.cidr else None

    def clean(self):
        if not self.cidr:
            return
        try:
            net = ipaddress.ip_network(self.cidr, strict=False)
        except ValueError as exc:
            raise ValidationError({"cidr": str(exc)}) from exc
        for field in ("gateway", "ip_range_start", "ip_range_end"):
            value = getattr(self, field)
            if value and ipaddress.ip_address(value) not in net:
                raise ValidationError({field: f"{value} is outside {net}."})

    def contains(self, address: str) -> bool:
        net = self.network
        if net is None:
            return False
        ip = ipaddress.ip_address(address)
        if ip not in net:
            return False
        if self.ip_range_start and self.ip_range_end:
            return ipaddress.ip_address(self.ip_range_start) <= ip <= ipaddress.ip_address(self.ip_range_end)
        return True


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.USE)

    class Meta:
        ordering = ["tenant", "user"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"


QUOTA_RESOURCES = (
    ("vcpus", "vCPUs", ""),
    ("memory_gib", "Memory", "GiB"),
    ("disk_gib", "Disk", "GiB"),
    ("vms", "VMs", ""),
    ("clusters", "Clusters", ""),
)


class Quota(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="quota")
    vcpus = models.PositiveIntegerField(default=16)
    memory_gib = models.PositiveIntegerField(default=64)
    disk_gib = models.PositiveIntegerField(default=500)
    vms = models.PositiveIntegerField(default=10)
    clusters = models.PositiveIntegerField(default=2)
    warn_percent = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Warn above this share.",
    )

    def __str__(self) -> str:
        return f"Quota of {self.tenant}"

    def limits(self) -> dict[str, int]:
        return {key: getattr(self, key) for key, _, _ in QUOTA_RESOURCES}

    def clean(self):
        """A child's quota cannot exceed what is left of its parent's after its siblings."""
        parent = self.tenant.parent if self.tenant_id else None
        if parent is None:
            return
        parent_quota = Quota.objects.filter(tenant=parent).first()
        if parent_quota is None:
            return
        siblings = Quota.objects.filter(tenant__parent=parent).exclude(tenant=self.tenant)
        errors = {}
        for key, label, unit in QUOTA_RESOURCES:
            used_by_siblings = sum(getattr(q, key) for q in siblings)
            left = getattr(parent_quota, key) - used_by_siblings
            if getattr(self, key) > left:
                errors[key] = f"At most {max(left, 0)} {unit or label} left in the parent tenant {parent.slug}."
        if errors:
            raise ValidationError(errors)


class AutoApprovalRule(models.Model):
    """Requests matching an enabled rule are approved by the system actor `auto-approval`."""

    class Kind(models.TextChoices):
        ANY = "any", "VMs and clusters"
        VM = "vm", "VMs"
        CLUSTER = "cluster", "Clusters"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="auto_approval_rules")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VM)
    max_vcpus = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = no limit.")
    max_memory_gib = models.PositiveIntegerField(null=True, blank=True)
    max_disk_gib = models.PositiveIntegerField(null=True, blank=True)
    require_below_warn = models.BooleanField(
        default=True, help_text="Only when the tenant stays below the quota's warn level after the order."
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["tenant", "name"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"


# --- catalog ---------------------------------------------------------------------------------------


class InstanceType(models.Model):
    name = models.CharField(
        max_length=64, unique=True, validators=[RegexValidator(r"^[a-z0-9]+\.[a-z0-9]+$", "Use series.size.")]
    )
    vcpus = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(512)])
    memory_mib = models.PositiveIntegerField(validators=[MinValueValidator(128)])
    description = models.CharField(max_length=200, blank=True)
    builtin = models.BooleanField(default=False, help_text="Seeded from the KubeVirt u1 series.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["vcpus", "memory_mib", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.vcpus} vCPU, {format_mib(self.memory_mib)})"


class KubernetesVersion(models.Model):
    version = models.CharField(max_length=16, unique=True, validators=[RegexValidator(r"^v1\.\d+\.\d+$")])
    is_default = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return self.version


class OSTemplate(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Added by an admin"
        SYNC = "sync", "Synced from Proxmox"

    name = models.CharField(max_length=64)
    endpoint = models.ForeignKey(ProxmoxEndpoint, null=True, blank=True, on_delete=models.CASCADE)
    vmid = models.PositiveIntegerField(null=True, blank=True, help_text="Template VMID (or use tags).")
    node = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=list, blank=True, help_text="Select the template by this exact tag set.")
    os_family = models.CharField(max_length=32, default="linux")
    cloud_init = models.BooleanField(default=True)
    min_disk_gib = models.PositiveIntegerField(default=10, validators=[MinValueValidator(1)])
    disks = models.JSONField(default=dict, blank=True)
    default_user = models.CharField(max_length=32, blank=True, default="ubuntu")
    full_clone = models.BooleanField(null=True, blank=True, help_text="Empty = the tenant's setting.")
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.MANUAL)
    active = models.BooleanField(default=True)
    vanished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "vmid"], condition=Q(vmid__isnull=False), name="uniq_template_vmid"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.vmid is None and not self.tags:
            raise ValidationError("Give the template's VMID and node, or a tag set to select it by.")
        if self.vmid is not None and not self.node:
            raise ValidationError({"node": "A template given by VMID needs its node."})


def format_mib(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


# --- requests ----------------------------------------------------------------------------------------


class TenantScopedQuerySet(models.QuerySet):
    """For models with a `tenant` foreign key: what a user may see."""

    def for_user(self, user, min_role: str = Role.VIEW):
        """What `user` may see: staff see everything, members their tenants'."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(tenant__in=Tenant.objects.for_user(user, min_role).values("pk"))


class LifecycleModel(models.Model):
    """Fields and behaviour shared by everything that moves through `State`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=63, validators=[dns_label_validator])
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING_APPROVAL, db_index=True)
    state_changed_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, help_text="Why it was rejected or failed, in plain words.")
    origin = models.CharField(max_length=12, choices=Origin.choices, default=Origin.PORTAL)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TenantScopedQuerySet.as_manager()

    kind: str = ""

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"

    @property
    def state_colour(self) -> str:
        return colour(self.state)

    @property
    def is_final(self) -> bool:
        return is_final(self.state)

    def spec_snapshot(self) -> dict:
        raise NotImplementedError


class VMRequest(LifecycleModel):
    kind = "vm"

    instance_type = models.ForeignKey(InstanceType, null=True, blank=True, on_delete=models.PROTECT)
    sockets = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(4)])
    cores = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(128)])
    memory_mib = models.PositiveIntegerField(validators=[MinValueValidator(512), MaxValueValidator(1024 * 1024)])
    template = models.ForeignKey(OSTemplate, on_delete=models.PROTECT)
    disk_gib = models.PositiveIntegerField(validators=[MinValueValidator(1), MaxValueValidator(16384)])
    network = models.ForeignKey(TenantNetwork, on_delete=models.PROTECT)
    ip_address = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    ssh_keys = models.TextField(blank=True)
    ci_user = models.CharField(max_length=32, blank=True, validators=[RegexValidator(r"^[a-z_][a-z0-9_-]{0,31}$")])
    user_data = models.TextField(blank=True)
    run_strategy = models.CharField(max_length=16, choices=RunStrategy.choices, default=RunStrategy.ALWAYS)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"],
                condition=Q(state__in=sorted(NAME_HOLDING_STATES)),
                name="uniq_live_vm_name_per_tenant",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="vm_tenant_recent_idx"),
            models.Index(fields=["state", "created_at"], name="vm_state_age_idx"),
        ]
        permissions = [("approve_vmrequest", "Can approve or reject VM requests")]

    def get_absolute_url(self) -> str:
        return reverse("portal:vm-detail", args=[self.pk])

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores

    def spec_snapshot(self) -> dict:
        return {
            "name": self.name,
            "tenant": self.tenant.slug,
            "instance_type": self.instance_type.name if self.instance_type_id else None,
            "sockets": self.sockets,
            "cores": self.cores,
            "memory_mib": self.memory_mib,
            "template": self.template.name,
            "disk_gib": self.disk_gib,
            "network": self.network.label,
            "ip_address": self.ip_address or "dhcp",
            "ssh_keys": len(self.ssh_key_list()),
            "user_data_bytes": len(self.user_data.encode()),
            "run_strategy": self.run_strategy,
        }

    def ssh_key_list(self) -> list[str]:
        return [line.strip() for line in self.ssh_keys.splitlines() if line.strip()]


class ClusterRequest(LifecycleModel):
    kind = "cluster"

    kubernetes_version = models.ForeignKey(KubernetesVersion, on_delete=models.PROTECT)
    control_plane_replicas = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    network = models.ForeignKey(TenantNetwork, on_delete=models.PROTECT)
    ssh_keys = models.TextField(blank=True)
    addons = models.JSONField(default=dict, blank=True)
    # Filled in by provisioning/capi: the last status read from the management cluster.
    status_detail = models.JSONField(default=dict, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    ADDONS = (
        ("cert_manager", "cert-manager"),
        ("ingress_nginx", "ingress-nginx"),
        ("monitoring_agents", "Monitoring agents"),
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"],
                condition=Q(state__in=sorted(NAME_HOLDING_STATES)),
                name="uniq_live_cluster_name_per_tenant",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="cluster_tenant_recent_idx"),
            models.Index(fields=["state", "created_at"], name="cluster_state_age_idx"),
        ]
        permissions = [("approve_clusterrequest", "Can approve or reject cluster requests")]

    def get_absolute_url(self) -> str:
        return reverse("portal:cluster-detail", args=[self.pk])

    def spec_snapshot(self) -> dict:
        return {
            "name": self.name,
            "tenant": self.tenant.slug,
            "kubernetes_version": self.kubernetes_version.version,
            "control_plane_replicas": self.control_plane_replicas,
            "network": self.network.label,
            "addons": {key: bool(self.addons.get(key)) for key, _ in self.ADDONS},
            "node_groups": [g.spec_snapshot() for g in self.node_groups.all()],
        }

    def ssh_key_list(self) -> list[str]:
        return [line.strip() for line in self.ssh_keys.splitlines() if line.strip()]


class NodeGroup(models.Model):
    cluster = models.ForeignKey(ClusterRequest, on_delete=models.CASCADE, related_name="node_groups")
    name = models.CharField(max_length=32, validators=[dns_label_validator])
    min_replicas = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(100)])
    max_replicas = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    replicas = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(100)])
    instance_type = models.ForeignKey(InstanceType, null=True, blank=True, on_delete=models.PROTECT)
    sockets = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1), MaxValueValidator(4)])
    cores = models.PositiveSmallIntegerField(default=2, validators=[MinValueValidator(1), MaxValueValidator(128)])
    memory_mib = models.PositiveIntegerField(default=4096, validators=[MinValueValidator(1024)])
    disk_gib = models.PositiveIntegerField(default=20, validators=[MinValueValidator(5), MaxValueValidator(16384)])
    roles = models.JSONField(default=list, blank=True)
    template = models.ForeignKey(OSTemplate, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["cluster", "name"]
        constraints = [models.UniqueConstraint(fields=["cluster", "name"], name="uniq_nodegroup_name")]

    def __str__(self) -> str:
        return f"{self.cluster.name}/{self.name}"

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores

    def spec_snapshot(self) -> dict:
        return {
            "name": self.name,
            "min_replicas": self.min_replicas,
            "max_replicas": self.max_replicas,
            "replicas": self.replicas,
            "instance_type": self.instance_type.name if self.instance_type_id else None,
            "sockets": self.sockets,
            "cores": self.cores,
            "memory_mib": self.memory_mib,
            "disk_gib": self.disk_gib,
            "roles": list(self.roles),
            "template": self.template.name if self.template_id else None,
        }


REQUEST_MODELS = {"vm": VMRequest, "cluster": ClusterRequest}


# --- audit -------------------------------------------------------------------------------------------


class AuditQuerySet(models.QuerySet):
    def for_user(self, user):
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(tenant__in=Tenant.objects.for_user(user).values("pk"))

    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of every transition and admin action."""

    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    # PROTECT: people and tenants with history are deactivated, not deleted, so the trail stays whole.
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_name = models.CharField(max_length=150, help_text="Username, or the system actor's name.")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    object_type = models.CharField(max_length=32, db_index=True, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    object_repr = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True, help_text="Correlation id of the HTTP request or task.")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "-timestamp"], name="audit_object_idx"),
            models.Index(fields=["tenant", "-timestamp"], name="audit_tenant_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action} {self.object_repr}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")

    @property
    def is_system(self) -> bool:
        return self.actor_id is None


def dns_label_ok(value: str) -> bool:
    return bool(re.match(DNS_LABEL_RE, value or ""))


class ClusterChange(models.Model):
    """A change to a ready cluster (scale a node group, new Kubernetes version) that waits for an admin.

    Changes that fit the quota and an auto-approval rule, or that do not grow the quota footprint, are applied at
    once and only leave audit events; the others are kept here until approved or rejected.
    """

    class Kind(models.TextChoices):
        SCALE = "scale", "Scale a node group"
        VERSION = "version", "Change the Kubernetes version"

    class Decision(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    cluster = models.ForeignKey(ClusterRequest, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    node_group = models.ForeignKey(NodeGroup, null=True, blank=True, on_delete=models.CASCADE)
    min_replicas = models.PositiveSmallIntegerField(null=True, blank=True)
    max_replicas = models.PositiveSmallIntegerField(null=True, blank=True)
    kubernetes_version = models.ForeignKey(KubernetesVersion, null=True, blank=True, on_delete=models.PROTECT)
    state = models.CharField(max_length=8, choices=Decision.choices, default=Decision.PENDING, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.cluster}: {self.describe()}"

    def describe(self) -> str:
        if self.kind == self.Kind.SCALE:
            group = self.node_group
            return (
                f"node group {group.name}: {group.min_replicas}–{group.max_replicas} → "
                f"{self.min_replicas}–{self.max_replicas} replicas"
            )
        return f"Kubernetes {self.cluster.kubernetes_version} → {self.kubernetes_version}"
