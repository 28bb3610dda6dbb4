"""Saved migration plans: a KubeVirt source, the user's maps and target, and one item per source VM."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from portal.models import ClusterRequest, Tenant, TenantScopedQuerySet, VMRequest


class PlanQuerySet(TenantScopedQuerySet):
    """Plans of the user's tenants; staff see every plan."""


class MigrationPlan(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"

    class SourceKind(models.TextChoices):
        NONE = "", "Not chosen yet"
        PASTE = "paste", "Pasted YAML"
        UPLOAD = "upload", "Uploaded files"
        CLUSTER = "cluster", "Live KubeVirt cluster"
        API = "api", "REST API"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="migration_plans")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT, db_index=True)
    source_kind = models.CharField(max_length=8, choices=SourceKind.choices, blank=True)
    source_description = models.CharField(max_length=500, blank=True)
    # The manifests the plan converts (YAML, several documents). Size-limited on the way in.
    source_text = models.TextField(blank=True)
    # Fernet token of an uploaded kubeconfig; never rendered, deleted on submit and with the plan.
    kubeconfig_token = models.TextField(blank=True)
    # {"network": {source key: TenantNetwork pk}, "storage": {class: storage}, "templates": {image: OSTemplate pk}}
    mappings = models.JSONField(default=dict, blank=True)
    # {"node": str, "ssh_keys": str, "cluster_name": str, "kubernetes_version": pk, "cluster_network": pk}
    target = models.JSONField(default=dict, blank=True)
    rules_version = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects = PlanQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"

    def get_absolute_url(self) -> str:
        if self.status == self.Status.SUBMITTED:
            return reverse("migration:progress", args=[self.pk])
        return reverse("migration:source", args=[self.pk])

    @property
    def editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def has_kubeconfig(self) -> bool:
        return bool(self.kubeconfig_token)


class MigrationItem(models.Model):
    """One source VM of a plan: whether it is migrated, how, and the request it became."""

    class Mode(models.TextChoices):
        VM = "vm", "Standalone VM"
        NODE_GROUP = "node_group", "Node group of a capmox cluster"

    plan = models.ForeignKey(MigrationPlan, on_delete=models.CASCADE, related_name="items")
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    kind = models.CharField(max_length=64, default="VirtualMachine")
    replica = models.PositiveIntegerField(null=True, blank=True)
    selected = models.BooleanField(default=True)
    accept_critical = models.BooleanField(default=False)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.VM)
    target_name = models.CharField(max_length=63, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    vm_request = models.ForeignKey(
        VMRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="migration_items"
    )
    cluster_request = models.ForeignKey(
        ClusterRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="migration_items"
    )

    class Meta:
        ordering = ["plan", "namespace", "name", "replica"]

    def __str__(self) -> str:
        return self.key

    @property
    def key(self) -> str:
        base = f"{self.namespace or 'default'}/{self.name}"
        return base if self.replica is None else f"{base}#{self.replica}"

    @property
    def critical_count(self) -> int:
        return int((self.summary.get("concerns") or {}).get("Critical", 0))

    @property
    def blocked(self) -> bool:
        """A selected VM with Critical concerns the user has not accepted blocks the wizard."""
        return self.selected and self.critical_count > 0 and not self.accept_critical
