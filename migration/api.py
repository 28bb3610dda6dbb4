"""REST API of the migration wizard: create a plan from YAML, set maps and choices, review, submit.

The same checks as the browser wizard run here (migration.wizard); other tenants' plans are 404.
"""

from __future__ import annotations

import difflib

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from portal.models import KubernetesVersion, Role, Tenant
from portal.tenancy import has_role

from .models import MigrationItem, MigrationPlan
from .sources import MAX_TOTAL_BYTES, SourceError, check_manifests
from .wizard import engine, review
from .wizard.submit import SubmitError, build_orders, order_notes, submit


class ItemSerializer(serializers.ModelSerializer):
    key = serializers.CharField(read_only=True)
    vm_request = serializers.PrimaryKeyRelatedField(read_only=True)
    cluster_request = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = MigrationItem
        fields = ["id", "key", "namespace", "name", "kind", "replica", "selected", "accept_critical", "mode",
                  "target_name", "summary", "vm_request", "cluster_request"]  # fmt: skip
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    owner = serializers.CharField(source="owner.username", read_only=True, default=None)
    items = ItemSerializer(many=True, read_only=True)
    has_kubeconfig = serializers.BooleanField(read_only=True)
    steps = serializers.SerializerMethodField()

    class Meta:
        model = MigrationPlan
        fields = ["id", "name", "tenant", "owner", "status", "source_kind", "source_description", "mappings",
                  "target", "rules_version", "has_kubeconfig", "created_at", "updated_at", "submitted_at", "items",
                  "steps"]  # fmt: skip
        read_only_fields = fields

    def get_steps(self, plan) -> list[dict]:
        states = engine.step_states(plan, engine.build_context(plan))
        return [{"key": s["key"], "errors": s["errors"], "locked": s["locked"]} for s in states]


class PlanCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    tenant = serializers.SlugField(help_text="Slug of a tenant where you have the use role.")
    yaml = serializers.CharField(max_length=MAX_TOTAL_BYTES, trim_whitespace=False, help_text="KubeVirt manifests.")


class SelectionSerializer(serializers.Serializer):
    selected = serializers.BooleanField(required=False)
    accept_critical = serializers.BooleanField(required=False)
    mode = serializers.ChoiceField(choices=MigrationItem.Mode.choices, required=False)
    target_name = serializers.CharField(max_length=63, required=False)


class TargetSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=64, required=False, allow_blank=True)
    ssh_keys = serializers.CharField(max_length=20000, required=False, allow_blank=True, trim_whitespace=False)
    cluster_name = serializers.CharField(max_length=63, required=False, allow_blank=True)
    cluster_network = serializers.IntegerField(required=False, allow_null=True)
    kubernetes_version = serializers.IntegerField(required=False, allow_null=True)


class MappingsSerializer(serializers.Serializer):
    network = serializers.DictField(child=serializers.IntegerField(), required=False,
                                    help_text='Source network ("pod" or "ns/name") -> TenantNetwork id.')  # fmt: skip
    storage = serializers.DictField(child=serializers.CharField(max_length=64), required=False,
                                    help_text="Storage class -> Proxmox storage ID.")  # fmt: skip
    templates = serializers.DictField(child=serializers.IntegerField(), required=False,
                                      help_text="Boot source (image, URL, datasource:) -> OSTemplate id.")  # fmt: skip
    selection = serializers.DictField(child=SelectionSerializer(), required=False,
                                      help_text='VM key ("ns/name") -> choices.')  # fmt: skip
    target = TargetSerializer(required=False)


class MigrationPlanViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    serializer_class = PlanSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        return (
            MigrationPlan.objects.for_user(self.request.user)
            .select_related("tenant", "owner")
            .prefetch_related("items")
        )

    def _editable_plan(self) -> MigrationPlan:
        plan = self.get_object()
        if not has_role(self.request.user, plan.tenant, Role.USE):
            raise PermissionDenied("Your role does not allow changing this plan.")
        if not plan.editable:
            raise ValidationError({"status": "The plan was submitted and can no longer be changed."})
        return plan

    @extend_schema(request=PlanCreateSerializer, responses={201: PlanSerializer})
    def create(self, request):
        data = PlanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = Tenant.objects.for_user(request.user, Role.USE).filter(slug=data.validated_data["tenant"]).first()
        if tenant is None or not has_role(request.user, tenant, Role.USE):
            raise ValidationError({"tenant": "Unknown tenant, or your role there does not allow ordering."})
        try:
            text = check_manifests(data.validated_data["yaml"], "yaml")
        except SourceError as exc:
            raise ValidationError({"yaml": str(exc)}) from None
        plan = MigrationPlan(tenant=tenant, owner=request.user, name=data.validated_data["name"])
        try:
            plan.save()
            engine.replace_source(plan, text, MigrationPlan.SourceKind.API, "Created through the REST API")
        except engine.PlanError as exc:
            plan.delete()
            raise ValidationError({"yaml": str(exc)}) from None
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        if not has_role(self.request.user, instance.tenant, Role.USE):
            raise PermissionDenied("Your role does not allow deleting this plan.")
        instance.delete()

    @extend_schema(request=MappingsSerializer, responses={200: PlanSerializer})
    @action(detail=True, methods=["post", "put"])
    def mappings(self, request, pk=None):
        """Set maps, VM choices and the target; every part is optional and validated like the wizard steps."""
        plan = self._editable_plan()
        data = MappingsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        errors: dict = {}
        maps = dict(plan.mappings or {})
        if "network" in values:
            valid = set(engine.tenant_networks(plan).values_list("pk", flat=True))
            bad = [k for k, v in values["network"].items() if v not in valid]
            if bad:
                errors["network"] = f"Not networks of {plan.tenant.slug}: {', '.join(bad)}."
            maps["network"] = values["network"]
        if "storage" in values:
            bad = [v for v in values["storage"].values() if not engine.STORAGE_ID.match(v)]
            if bad:
                errors["storage"] = f"Invalid Proxmox storage IDs: {', '.join(bad)}."
            maps["storage"] = values["storage"]
        if "templates" in values:
            valid = set(engine.tenant_templates(plan).values_list("pk", flat=True))
            bad = [k for k, v in values["templates"].items() if v not in valid]
            if bad:
                errors["templates"] = f"Templates not offered to {plan.tenant.slug}: {', '.join(bad)}."
            maps["templates"] = values["templates"]
        items = {i.key: i for i in plan.items.all()}
        unknown = [k for k in values.get("selection", {}) if k not in items]
        if unknown:
            errors["selection"] = f"Unknown VMs: {', '.join(unknown)}."
        target = values.get("target")
        version = (target or {}).get("kubernetes_version")
        if version is not None and not KubernetesVersion.objects.filter(pk=version, active=True).exists():
            errors["target"] = "Unknown Kubernetes version."
        if errors:
            raise ValidationError(errors)  # nothing was saved
        for key, choice in values.get("selection", {}).items():
            item = items[key]
            for field, value in choice.items():
                setattr(item, field, value)
            item.save()
        plan.mappings = maps
        if target:
            plan.target = {**(plan.target or {}), **target}
        plan.save()
        return Response(PlanSerializer(plan).data)

    @extend_schema(responses={200: OpenApiResponse(description="Steps, per-VM concerns, Proxmox config, diff, disks, "
                                                               "order errors and quota.")})  # fmt: skip
    @action(detail=True, methods=["get"])
    def review(self, request, pk=None):
        plan = self.get_object()
        ctx = engine.build_context(plan)
        states = engine.step_states(plan, ctx)
        body: dict = {"steps": [{"key": s["key"], "errors": s["errors"]} for s in states], "vms": [], "ready": False}
        if ctx is None:
            return Response(body)
        orders = build_orders(ctx) if not any(s["errors"] for s in states) else None
        unmapped = {engine.item_key(p): p for p in engine.convert_plan(plan, with_maps=False).plans}
        for item in ctx.selected:
            vm_plan = ctx.vm_plan(item)
            if vm_plan is None:
                continue
            before = review.dump(review.proxmox_view(unmapped.get(item.key, vm_plan))).splitlines()
            after = review.dump(review.proxmox_view(vm_plan)).splitlines()
            body["vms"].append(
                {
                    "key": item.key,
                    "targetName": item.target_name,
                    "mode": item.mode,
                    "concerns": [c.to_dict() for c in review.sorted_concerns(vm_plan.concerns)],
                    "proxmox": {"config": vm_plan.qm_config, "cloudInit": vm_plan.cloud_init},
                    "capmox": vm_plan.capmox,
                    "disks": [d.to_dict() for d in vm_plan.disks],
                    "diff": "\n".join(
                        difflib.unified_diff(before, after, "without maps", "with the plan's maps", lineterm="")
                    ),  # fmt: skip
                    "errors": orders.errors.get(item.pk, []) if orders else [],
                    "notes": order_notes(ctx, vm_plan),
                }
            )
        if orders is not None:
            body["planErrors"] = orders.plan_errors
            body["quota"] = [
                {"key": line.key, "label": line.label, "used": line.used, "adding": line.adding, "limit": line.limit,
                 "exceeds": line.exceeds}
                for line in orders.quota
            ]  # fmt: skip
            body["ready"] = orders.ok
        return Response(body)

    @extend_schema(request=None, responses={201: OpenApiResponse(description="The created VM/cluster request ids.")})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        plan = self._editable_plan()
        ctx = engine.build_context(plan)
        states = engine.step_states(plan, ctx)
        errors = [e for s in states for e in s["errors"]]
        if errors:
            raise ValidationError({"steps": errors})
        orders = build_orders(ctx)
        try:
            created = submit(ctx, orders, actor=request.user)
        except SubmitError as exc:
            raise ValidationError({"review": exc.messages}) from None
        return Response(
            {
                "vmRequests": [o.pk for o in created if o.kind == "vm"],
                "clusterRequests": [o.pk for o in created if o.kind == "cluster"],
                "plan": PlanSerializer(plan).data,
            },
            status=status.HTTP_201_CREATED,
        )
