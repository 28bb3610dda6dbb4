"""REST serializers. Writes are validated by the same Django forms as the browser orders."""

from __future__ import annotations

from rest_framework import serializers

from ..models import (
    AuditEvent,
    ClusterRequest,
    InstanceType,
    KubernetesVersion,
    Membership,
    NodeGroup,
    OSTemplate,
    Quota,
    Tenant,
    TenantNetwork,
    VMRequest,
)
from ..states import colour


class TenantNetworkSerializer(serializers.ModelSerializer):
    class Meta:
        model = TenantNetwork
        fields = [
            "id",
            "name",
            "bridge",
            "vlan",
            "cidr",
            "gateway",
            "ip_range_start",
            "ip_range_end",
            "dns_servers",
        ]


class QuotaSerializer(serializers.ModelSerializer):
    class Meta:
        model = Quota
        fields = ["vcpus", "memory_gib", "disk_gib", "vms", "clusters", "warn_percent"]


class TenantSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    quota = QuotaSerializer(read_only=True)
    networks = TenantNetworkSerializer(many=True, read_only=True)
    usage = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = ["slug", "name", "parent", "namespace", "allowed_nodes", "quota", "usage", "networks"]

    def get_usage(self, tenant) -> dict:
        usage = self.context.get("usage", {}).get(tenant.pk)
        return usage.as_quota_units() if usage else {}


class MembershipSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "tenant", "role"]


class InstanceTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = InstanceType
        fields = ["name", "vcpus", "memory_mib", "description", "builtin"]


class OSTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = OSTemplate
        fields = [
            "id",
            "name",
            "os_family",
            "cloud_init",
            "min_disk_gib",
            "node",
            "vmid",
            "tags",
            "default_user",
        ]


class KubernetesVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = KubernetesVersion
        fields = ["version", "is_default"]


class StateFields(serializers.Serializer):
    state = serializers.CharField(read_only=True)
    state_label = serializers.CharField(source="get_state_display", read_only=True)
    state_colour = serializers.SerializerMethodField()
    is_final = serializers.BooleanField(read_only=True)

    def get_state_colour(self, obj) -> str:
        return colour(obj.state)


class VMRequestSerializer(StateFields, serializers.ModelSerializer):
    """Read shape of a VM request. Create accepts the order form's fields (see VMOrderSerializer)."""

    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    instance_type = serializers.SlugRelatedField(slug_field="name", read_only=True)
    template = serializers.SlugRelatedField(slug_field="name", read_only=True)
    network = TenantNetworkSerializer(read_only=True)
    vcpus = serializers.IntegerField(read_only=True)

    class Meta:
        model = VMRequest
        fields = [
            "id",
            "tenant",
            "name",
            "state",
            "state_label",
            "state_colour",
            "is_final",
            "reason",
            "origin",
            "requested_by",
            "instance_type",
            "sockets",
            "cores",
            "vcpus",
            "memory_mib",
            "template",
            "disk_gib",
            "network",
            "ip_address",
            "ssh_keys",
            "ci_user",
            "run_strategy",
            "created_at",
            "state_changed_at",
            "approved_at",
        ]


class VMOrderSerializer(serializers.Serializer):
    tenant = serializers.CharField(help_text="Tenant slug.")
    name = serializers.CharField()
    template = serializers.CharField(help_text="Template id (see /api/catalog/templates/).")
    instance_type = serializers.CharField(required=False, allow_blank=True, help_text="e.g. u1.medium")
    vcpus = serializers.IntegerField(required=False)
    memory_gib = serializers.DecimalField(required=False, max_digits=6, decimal_places=1)
    sockets = serializers.IntegerField(required=False)
    disk_gib = serializers.IntegerField()
    network = serializers.IntegerField(help_text="Id of one of the tenant's networks.")
    ip_address = serializers.CharField(required=False, allow_blank=True)
    ssh_keys = serializers.CharField(required=False, allow_blank=True)
    ci_user = serializers.CharField(required=False, allow_blank=True)
    user_data = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    run_strategy = serializers.CharField(required=False, default="Always")


class NodeGroupSerializer(serializers.ModelSerializer):
    instance_type = serializers.SlugRelatedField(slug_field="name", read_only=True)
    vcpus = serializers.IntegerField(read_only=True)

    class Meta:
        model = NodeGroup
        fields = [
            "name",
            "min_replicas",
            "max_replicas",
            "replicas",
            "instance_type",
            "vcpus",
            "memory_mib",
            "disk_gib",
            "roles",
        ]


class ClusterRequestSerializer(StateFields, serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    kubernetes_version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    network = TenantNetworkSerializer(read_only=True)
    node_groups = NodeGroupSerializer(many=True, read_only=True)

    class Meta:
        model = ClusterRequest
        fields = [
            "id",
            "tenant",
            "name",
            "state",
            "state_label",
            "state_colour",
            "is_final",
            "reason",
            "origin",
            "requested_by",
            "kubernetes_version",
            "control_plane_replicas",
            "network",
            "addons",
            "node_groups",
            "status_detail",
            "created_at",
            "state_changed_at",
            "approved_at",
        ]


class NodeGroupOrderSerializer(serializers.Serializer):
    name = serializers.CharField()
    min_replicas = serializers.IntegerField()
    max_replicas = serializers.IntegerField()
    instance_type = serializers.CharField(required=False, allow_blank=True)
    vcpus = serializers.IntegerField(required=False)
    memory_gib = serializers.IntegerField(required=False)
    disk_gib = serializers.IntegerField(required=False, default=20)
    roles = serializers.ListField(child=serializers.CharField(), required=False)


class ClusterOrderSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    name = serializers.CharField()
    kubernetes_version = serializers.CharField(help_text="e.g. v1.33.4")
    control_plane_replicas = serializers.IntegerField(required=False, default=2)
    network = serializers.IntegerField()
    ssh_keys = serializers.CharField(required=False, allow_blank=True)
    addons = serializers.DictField(child=serializers.BooleanField(), required=False)
    node_groups = NodeGroupOrderSerializer(many=True)


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AuditEventSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "timestamp",
            "actor_name",
            "tenant",
            "object_type",
            "object_id",
            "object_repr",
            "action",
            "from_state",
            "to_state",
            "reason",
            "request_id",
            "before",
            "after",
        ]


class ScaleSerializer(serializers.Serializer):
    node_group = serializers.CharField()
    min_replicas = serializers.IntegerField(min_value=0, max_value=100)
    max_replicas = serializers.IntegerField(min_value=1, max_value=100)


class UpgradeSerializer(serializers.Serializer):
    kubernetes_version = serializers.CharField()


class ClusterChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    state = serializers.CharField()
    description = serializers.CharField(source="describe")
    reason = serializers.CharField()
