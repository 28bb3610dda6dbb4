"""REST API mirroring the browser: everything is scoped to the caller's tenants; others' objects are 404."""

from __future__ import annotations

from django.db import transaction
from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from .. import services
from ..forms import ClusterRequestForm, NodeGroupFormSet, VMRequestForm
from ..kinds import KINDS
from ..models import (
    AuditEvent,
    InstanceType,
    KubernetesVersion,
    Membership,
    NodeGroup,
    Origin,
    OSTemplate,
    Role,
    Tenant,
)
from ..quota import usage_by_tenant
from ..states import IllegalTransition
from ..tenancy import can_approve, has_role
from . import serializers as s


class TenantViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.TenantSerializer
    lookup_field = "slug"
    filterset_fields = ["parent__slug"]

    def get_queryset(self):
        return (
            Tenant.objects.for_user(self.request.user)
            .select_related("parent", "quota")
            .prefetch_related("networks")
            .order_by("slug")
        )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        page_ids = getattr(self, "_page_ids", None)
        if page_ids is not None:
            context["usage"] = usage_by_tenant(page_ids)
        return context

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        self._page_ids = [t.pk for t in page]
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, *args, **kwargs):
        tenant = self.get_object()
        self._page_ids = [tenant.pk]
        return Response(self.get_serializer(tenant).data)


class MembershipViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.MembershipSerializer
    filterset_fields = ["tenant__slug", "role"]

    def get_queryset(self):
        qs = Membership.objects.select_related("user", "tenant").order_by("tenant__slug", "user__username")
        if self.request.user.is_staff:
            return qs
        return qs.filter(tenant__in=Tenant.objects.for_user(self.request.user).values("pk"))


class CatalogPermission(permissions.BasePermission):
    """Everyone logged in reads the catalog; staff change it."""

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        return request.method in permissions.SAFE_METHODS or request.user.is_staff


class InstanceTypeViewSet(viewsets.ModelViewSet):
    serializer_class = s.InstanceTypeSerializer
    permission_classes = [CatalogPermission]
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9]+\.[a-z0-9]+"
    queryset = InstanceType.objects.filter(active=True)


class OSTemplateViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.OSTemplateSerializer
    queryset = OSTemplate.objects.filter(active=True, vanished_at__isnull=True)
    filterset_fields = ["os_family", "cloud_init"]


class KubernetesVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.KubernetesVersionSerializer
    queryset = KubernetesVersion.objects.filter(active=True)
    lookup_field = "version"
    lookup_value_regex = r"v[0-9.]+"


def _form_data(values: dict) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, list):
            data.setlist(key, [str(v) for v in value])
        else:
            data[key] = str(value)
    return data


def _order_tenant(request, slug: str) -> Tenant:
    tenant = Tenant.objects.for_user(request.user).filter(slug=slug).first()
    if tenant is None:
        raise ValidationError({"tenant": [f"No tenant “{slug}” among yours."]})
    if not has_role(request.user, tenant, Role.USE):
        raise PermissionDenied(f"Your role in {tenant.slug} does not allow ordering.")
    return tenant


class RequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    kind_key = "vm"
    filterset_fields = ["state", "tenant__slug", "origin"]
    ordering_fields = ["created_at", "name", "state"]

    def get_queryset(self):
        qs = KINDS[self.kind_key].queryset().for_user(self.request.user).order_by("-created_at", "-pk")
        if self.kind_key == "cluster":
            qs = qs.prefetch_related("node_groups__instance_type")
        return qs

    def _decide(self, request, pk, decision):
        if not can_approve(request.user):
            # Visible objects only: a tenant user gets 404 for others' requests and 403 for their own.
            self.get_object()
            raise PermissionDenied("Only platform admins with the approve permission can do this.")
        obj = self.get_object()
        body = s.DecisionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason", "")
        try:
            if decision == "approve":
                obj = services.approve(obj, actor=request.user, reason=reason)
            else:
                if not reason.strip():
                    raise ValidationError({"reason": ["A reason is required to reject a request."]})
                obj = services.reject(obj, actor=request.user, reason=reason)
        except IllegalTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except services.QuotaExceeded as exc:
            return Response({"detail": str(exc), "quota": exc.errors}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_queryset().get(pk=obj.pk)).data)

    @extend_schema(request=s.DecisionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._decide(request, pk, "approve")

    @extend_schema(request=s.DecisionSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self._decide(request, pk, "reject")

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        obj = self.get_object()
        if not (obj.requested_by_id == request.user.pk or has_role(request.user, obj.tenant, Role.ADMIN)):
            raise PermissionDenied("Only the requester or a tenant admin can cancel.")
        try:
            obj = services.cancel(obj, actor=request.user)
        except IllegalTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_queryset().get(pk=obj.pk)).data)


class VMRequestViewSet(RequestViewSet):
    kind_key = "vm"
    serializer_class = s.VMRequestSerializer

    @extend_schema(request=s.VMOrderSerializer, responses={201: s.VMRequestSerializer})
    def create(self, request):
        order = s.VMOrderSerializer(data=request.data)
        order.is_valid(raise_exception=True)
        values = dict(order.validated_data)
        tenant = _order_tenant(request, values.pop("tenant"))
        form = VMRequestForm(_form_data(values), tenant=tenant)
        if not form.is_valid():
            raise ValidationError(_flatten(form.errors))
        vm = form.save(commit=False)
        vm.origin = Origin.API
        try:
            vm = services.submit_vm(vm, actor=request.user)
        except services.QuotaExceeded as exc:
            raise ValidationError({"quota": list(exc.errors.values())}) from None
        return Response(self.get_serializer(self.get_queryset().get(pk=vm.pk)).data, status=status.HTTP_201_CREATED)


def _flatten(errors) -> dict:
    return {field: [str(m) for m in messages] for field, messages in errors.items()}


class ClusterRequestViewSet(RequestViewSet):
    kind_key = "cluster"
    serializer_class = s.ClusterRequestSerializer

    @extend_schema(request=s.ClusterOrderSerializer, responses={201: s.ClusterRequestSerializer})
    def create(self, request):
        order = s.ClusterOrderSerializer(data=request.data)
        order.is_valid(raise_exception=True)
        values = dict(order.validated_data)
        tenant = _order_tenant(request, values.pop("tenant"))
        version = KubernetesVersion.objects.filter(version=values.pop("kubernetes_version"), active=True).first()
        addons = values.pop("addons", {}) or {}
        groups = values.pop("node_groups")
        values["kubernetes_version"] = version.pk if version else "unknown"
        for key, _label in KINDS["cluster"].model.ADDONS:
            if addons.get(key):
                values[key] = "on"
        form = ClusterRequestForm(_form_data(values), tenant=tenant)
        group_data = {"groups-TOTAL_FORMS": len(groups), "groups-INITIAL_FORMS": 0}
        for i, group in enumerate(groups):
            for key, value in group.items():
                group_data[f"groups-{i}-{key}"] = ",".join(value) if key == "roles" else value
        formset = NodeGroupFormSet(_form_data(group_data), prefix="groups", queryset=NodeGroup.objects.none())
        form_ok, groups_ok = form.is_valid(), formset.is_valid()
        if not (form_ok and groups_ok):
            errors = _flatten(form.errors)
            group_errors = [_flatten(f.errors) for f in formset.forms]
            if any(group_errors):
                errors["node_groups"] = group_errors
            if formset.non_form_errors():
                errors.setdefault("node_groups_errors", []).extend(formset.non_form_errors())
            raise ValidationError(errors)
        cluster = form.save(commit=False)
        cluster.origin = Origin.API
        try:
            with transaction.atomic():
                cluster = services.submit_cluster(
                    cluster, [f.save(commit=False) for f in formset.forms], actor=request.user
                )
        except services.QuotaExceeded as exc:
            raise ValidationError({"quota": list(exc.errors.values())}) from None
        return Response(
            self.get_serializer(self.get_queryset().get(pk=cluster.pk)).data, status=status.HTTP_201_CREATED
        )

    def _change(self, request, make):
        from .. import changes

        cluster = self.get_object()
        if not has_role(request.user, cluster.tenant, Role.USE):
            raise PermissionDenied("Your role does not allow changing this cluster.")
        try:
            change = make(changes, cluster)
        except IllegalTransition as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        except services.QuotaExceeded as exc:
            return Response({"detail": str(exc), "quota": exc.errors}, status=status.HTTP_409_CONFLICT)
        except ValueError as exc:
            raise ValidationError({"detail": [str(exc)]}) from None
        code = status.HTTP_200_OK if change.state == "applied" else status.HTTP_202_ACCEPTED
        return Response(s.ClusterChangeSerializer(change).data, status=code)

    @extend_schema(
        request=s.ScaleSerializer, responses={200: s.ClusterChangeSerializer, 202: s.ClusterChangeSerializer}
    )
    @action(detail=True, methods=["post"])
    def scale(self, request, pk=None):
        self.get_object()  # scope first: another tenant's cluster is a 404 whatever the body
        body = s.ScaleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data

        def make(changes, cluster):
            group = cluster.node_groups.filter(name=data["node_group"]).first()
            if group is None:
                raise ValueError(f"No node group {data['node_group']!r} in this cluster.")
            return changes.request_scale(
                cluster, group, min_replicas=data["min_replicas"], max_replicas=data["max_replicas"], actor=request.user
            )

        return self._change(request, make)

    @extend_schema(
        request=s.UpgradeSerializer, responses={200: s.ClusterChangeSerializer, 202: s.ClusterChangeSerializer}
    )
    @action(detail=True, methods=["post"])
    def upgrade(self, request, pk=None):
        self.get_object()
        body = s.UpgradeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        version = KubernetesVersion.objects.filter(
            version=body.validated_data["kubernetes_version"], active=True
        ).first()
        if version is None:
            raise ValidationError({"kubernetes_version": ["That Kubernetes version is not offered."]})
        return self._change(
            request, lambda changes, cluster: changes.request_version(cluster, version, actor=request.user)
        )

    @extend_schema(responses={(200, "application/yaml"): bytes})
    @action(detail=True, methods=["get"])
    def kubeconfig(self, request, pk=None):
        """The tenant cluster's kubeconfig (role `use` or higher); read on demand and audited, never stored."""
        from django.http import HttpResponse

        from provisioning.capi.tasks_impl import kubeconfig_for

        from .. import audit

        cluster = self.get_object()
        if not has_role(request.user, cluster.tenant, Role.USE):
            raise PermissionDenied("Your role does not allow downloading the kubeconfig.")
        try:
            data = kubeconfig_for(cluster)
        except Exception as exc:  # noqa: BLE001 - unreachable management cluster: say so, never a 500
            return Response(
                {"detail": f"The management cluster could not be reached: {type(exc).__name__}."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        if data is None:
            return Response({"detail": "The kubeconfig is not available yet."}, status=status.HTTP_409_CONFLICT)
        audit.record("kubeconfig.download", cluster, actor=request.user)
        response = HttpResponse(data, content_type="application/yaml")
        response["Cache-Control"] = "no-store"
        return response


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Tenant members see their tenants' events; staff see everything."""

    serializer_class = s.AuditEventSerializer
    filterset_fields = ["tenant__slug", "action", "object_type", "object_id", "actor_name"]

    def get_queryset(self):
        return AuditEvent.objects.for_user(self.request.user).select_related("tenant")

    def get_object(self):
        try:
            return super().get_object()
        except AuditEvent.DoesNotExist:
            raise NotFound() from None
