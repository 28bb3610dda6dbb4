from django.contrib import admin

from .models import (
    AuditEvent,
    AutoApprovalRule,
    ClusterRequest,
    InstanceType,
    KubernetesVersion,
    Membership,
    NodeGroup,
    OSTemplate,
    ProxmoxEndpoint,
    Quota,
    Tenant,
    TenantNetwork,
    VMRequest,
)


class QuotaInline(admin.StackedInline):
    model = Quota
    can_delete = False


class NetworkInline(admin.TabularInline):
    model = TenantNetwork
    extra = 0


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class RuleInline(admin.TabularInline):
    model = AutoApprovalRule
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "parent", "endpoint", "resource_pool", "storage"]
    search_fields = ["slug", "name"]
    list_select_related = ["parent", "endpoint"]
    inlines = [QuotaInline, NetworkInline, MembershipInline, RuleInline]


@admin.register(ProxmoxEndpoint)
class ProxmoxEndpointAdmin(admin.ModelAdmin):
    # The token secret is not a field: it is read from secret_env / secret_file when used.
    list_display = ["name", "api_url", "token_id", "verify_tls", "is_default", "enabled"]


@admin.register(InstanceType)
class InstanceTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "vcpus", "memory_mib", "builtin", "active"]
    list_filter = ["builtin", "active"]


@admin.register(OSTemplate)
class OSTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "endpoint",
        "vmid",
        "node",
        "os_family",
        "cloud_init",
        "source",
        "active",
        "vanished_at",
    ]
    list_filter = ["source", "active", "os_family"]


@admin.register(KubernetesVersion)
class KubernetesVersionAdmin(admin.ModelAdmin):
    list_display = ["version", "is_default", "active"]


class ReadOnlyRequestAdmin(admin.ModelAdmin):
    """Requests change state only through the portal's workflow, so the admin shows them read-only."""

    list_display = ["name", "tenant", "state", "requested_by", "created_at"]
    list_filter = ["state", "origin"]
    search_fields = ["name", "tenant__slug"]
    list_select_related = ["tenant", "requested_by"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(VMRequest, ReadOnlyRequestAdmin)


class NodeGroupInline(admin.TabularInline):
    model = NodeGroup
    extra = 0

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ClusterRequest)
class ClusterRequestAdmin(ReadOnlyRequestAdmin):
    inlines = [NodeGroupInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "actor_name", "tenant", "action", "object_repr", "from_state", "to_state"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_name", "object_repr", "reason", "request_id"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
