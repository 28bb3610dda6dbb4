"""Browser views: dashboard, orders, request pages, approvals and audit. All scoped to the user's tenants."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import CharField, Value
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_POST

from . import services
from .forms import ClusterRequestForm, NodeGroupFormSet, RejectForm, VMRequestForm
from .handoff import send
from .kinds import KINDS, Kind
from .lifecycle import transition
from .models import AuditEvent, NodeGroup, Role, Tenant, VMRequest
from .quota import Usage, cluster_usage, quota_lines, quota_of, tenant_usage, usage_by_tenant, vm_usage
from .states import IN_FLIGHT_STATES, IllegalTransition, State
from .tenancy import SESSION_KEY, can_approve, has_role, tenant_for_user_or_404

PAGE_SIZE = 25
SORTS = {
    "name": "name",
    "-name": "-name",
    "created": "created_at",
    "-created": "-created_at",
    "state": "state",
}


def _kind(key: str) -> Kind:
    try:
        return KINDS[key]
    except KeyError:
        raise Http404("Unknown kind.") from None


def _scoped_object(request, kind: Kind, pk: int):
    """The object if the user may see it; another tenant's object is a 404, never a 403."""
    return get_object_or_404(kind.queryset().for_user(request.user), pk=pk)


def _require_role(request, tenant: Tenant, minimum: str) -> None:
    if not has_role(request.user, tenant, minimum):
        raise PermissionDenied(f"Your role in {tenant.slug} does not allow this.")


def _require_approver(request) -> None:
    if not can_approve(request.user):
        raise PermissionDenied("Only platform admins with the approve permission can do this.")


# --- dashboard and tenant switching -----------------------------------------------------------------------


@login_required
def dashboard(request):
    tenant = request.tenant
    context = {"tenant": tenant}
    if tenant is not None:
        context["quota_lines"] = quota_lines(quota_of(tenant), tenant_usage(tenant))
        context["recent_vms"] = KINDS["vm"].queryset().filter(tenant=tenant)[:5]
        context["recent_clusters"] = KINDS["cluster"].queryset().filter(tenant=tenant)[:5]
        context["role"] = "admin" if request.user.is_staff else _role_label(request.user, tenant)
    if can_approve(request.user):
        context["pending_count"] = sum(
            k.model.objects.filter(state=State.PENDING_APPROVAL).count() for k in KINDS.values()
        )
        context["failed_count"] = sum(k.model.objects.filter(state=State.FAILED).count() for k in KINDS.values())
    return render(request, "portal/dashboard.html", context)


def _role_label(user, tenant) -> str:
    from .tenancy import role_in

    return role_in(user, tenant) or ""


@login_required
@require_POST
def switch_tenant(request):
    tenant = tenant_for_user_or_404(request.user, request.POST.get("tenant", ""))
    request.session[SESSION_KEY] = tenant.slug
    target = request.POST.get("next") or reverse("portal:dashboard")
    if not target.startswith("/") or target.startswith("//"):
        target = reverse("portal:dashboard")
    return redirect(target)


# --- request lists -------------------------------------------------------------------------------------------


class RequestListView(LoginRequiredMixin, View):
    kind_key = "vm"

    def get(self, request):
        kind = _kind(self.kind_key)
        qs = kind.queryset().for_user(request.user)
        tenant_param = request.GET.get("tenant", "")
        if tenant_param == "all" and request.user.is_staff:
            scope = "all"
        else:
            tenant = tenant_for_user_or_404(request.user, tenant_param) if tenant_param else request.tenant
            qs = qs.none() if tenant is None else qs.filter(tenant=tenant)
            scope = tenant.slug if tenant else ""
        state = request.GET.get("state", "")
        if state == "active":
            qs = qs.exclude(state__in=[State.DELETED, State.CANCELLED, State.REJECTED])
        elif state in State.values:
            qs = qs.filter(state=state)
        query = request.GET.get("q", "").strip()[:63]
        if query:
            qs = qs.filter(name__icontains=query)
        sort = request.GET.get("sort", "-created")
        qs = qs.order_by(SORTS.get(sort, "-created_at"), "-pk")
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        context = {
            "kind": kind,
            "page": page,
            "rows": list(page.object_list),
            "state": state,
            "q": query,
            "sort": sort,
            "scope": scope,
            "states": State.choices,
        }
        context["polling"] = any(row.state in IN_FLIGHT_STATES for row in context["rows"])
        template = "portal/_request_table.html" if request.htmx else "portal/request_list.html"
        return render(request, template, context)


class VMListView(RequestListView):
    kind_key = "vm"


class ClusterListView(RequestListView):
    kind_key = "cluster"


# --- ordering ------------------------------------------------------------------------------------------------


def _order_tenant(request) -> Tenant:
    slug = request.GET.get("tenant") or request.POST.get("tenant_slug") or (request.tenant and request.tenant.slug)
    if not slug:
        raise Http404("You are not a member of any tenant.")
    tenant = tenant_for_user_or_404(request.user, slug)
    _require_role(request, tenant, Role.USE)
    return tenant


def _only_touched_errors(form) -> None:
    """During live validation, hide 'required' errors of fields the user has not filled in yet."""
    for name in list(form.errors):
        if name != "__all__" and not form.data.get(form.add_prefix(name)):
            del form.errors[name]


@login_required
def vm_create(request):
    tenant = _order_tenant(request)
    form = VMRequestForm(request.POST or None, tenant=tenant)
    if request.method == "POST":
        live = request.POST.get("_validate") == "1"
        if form.is_valid() and not live:
            try:
                vm = services.submit_vm(form.save(commit=False), actor=request.user)
            except services.QuotaExceeded as exc:
                for message in exc.errors.values():
                    form.add_error(None, message)
            else:
                messages.success(request, _submitted_message(vm))
                return redirect(vm.get_absolute_url())
        elif live:
            _only_touched_errors(form)
    context = _order_context(request, tenant, form, "vm")
    template = "portal/_live_validation.html" if request.htmx else "portal/vm_form.html"
    return render(request, template, context, status=_form_status(request, form))


def _form_status(request, form) -> int:
    """422 for a refused full-page submit; htmx swaps only 2xx answers, so live validation gets 200."""
    return 422 if request.method == "POST" and form.errors and not request.htmx else 200


def _submitted_message(obj) -> str:
    if obj.state == State.APPROVED:
        return f"{obj.name} was approved automatically ({obj.reason}) and is being provisioned."
    return f"{obj.name} was submitted and waits for an admin's approval."


def _order_context(request, tenant, form, kind_key, formset=None) -> dict:
    adding = _preview_usage(form, formset) if request.method == "POST" else Usage()
    return {
        "tenant": tenant,
        "form": form,
        "formset": formset,
        "kind": KINDS[kind_key],
        "quota_lines": quota_lines(quota_of(tenant), tenant_usage(tenant), adding),
        "order_tenants": [t for t in request.tenants if has_role(request.user, t, Role.USE)]
        if not request.user.is_staff
        else list(Tenant.objects.order_by("slug")[:200]),
    }


def _preview_usage(form, formset=None) -> Usage:
    """What the order would add, computed from whatever parts of the form are valid so far."""
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    if formset is None:
        inst = form.instance
        if not inst.memory_mib:
            return Usage(disk_gib=data.get("disk_gib") or 0, vms=1)
        return vm_usage(
            VMRequest(
                sockets=inst.sockets,
                cores=inst.cores,
                memory_mib=inst.memory_mib,
                disk_gib=data.get("disk_gib") or 0,
            )
        )
    groups = []
    formset.is_valid()
    for f in formset.forms:
        cd = getattr(f, "cleaned_data", {}) or {}
        if f.instance.memory_mib and cd.get("max_replicas"):
            groups.append(
                NodeGroup(
                    sockets=1,
                    cores=f.instance.cores,
                    memory_mib=f.instance.memory_mib,
                    disk_gib=cd.get("disk_gib") or 0,
                    max_replicas=cd["max_replicas"],
                )
            )
    return cluster_usage(groups)


@login_required
def quota_preview(request, kind: str):
    """The quota bar of the order form, recomputed as the user types (htmx)."""
    tenant = _order_tenant(request)
    if kind == "vm":
        form = VMRequestForm(request.GET, tenant=tenant)
        adding = _preview_usage(form)
    else:
        form = ClusterRequestForm(request.GET, tenant=tenant)
        formset = NodeGroupFormSet(request.GET, prefix="groups")
        adding = _preview_usage(form, formset)
    lines = quota_lines(quota_of(tenant), tenant_usage(tenant), adding)
    return render(request, "portal/_quota.html", {"quota_lines": lines, "tenant": tenant, "preview": True})


@login_required
def cluster_create(request):
    tenant = _order_tenant(request)
    form = ClusterRequestForm(request.POST or None, tenant=tenant)
    initial = [{"name": "md0", "min_replicas": 1, "max_replicas": 3, "instance_type": "u1.medium", "disk_gib": 20}]
    formset = NodeGroupFormSet(
        request.POST or None, prefix="groups", queryset=NodeGroup.objects.none(), initial=initial
    )
    if request.method == "POST":
        live = request.POST.get("_validate") == "1"
        valid = form.is_valid() & formset.is_valid()
        if valid and not live:
            cluster = form.save(commit=False)
            groups = [f.save(commit=False) for f in formset.forms if f.has_changed() or f.initial]
            try:
                cluster = services.submit_cluster(cluster, groups, actor=request.user)
            except services.QuotaExceeded as exc:
                for message in exc.errors.values():
                    form.add_error(None, message)
            else:
                messages.success(request, _submitted_message(cluster))
                return redirect(cluster.get_absolute_url())
        elif live:
            _only_touched_errors(form)
    context = _order_context(request, tenant, form, "cluster", formset)
    template = "portal/_live_validation.html" if request.htmx else "portal/cluster_form.html"
    return render(request, template, context, status=_form_status(request, form))


# --- request pages -------------------------------------------------------------------------------------------


def _detail_context(request, kind: Kind, obj) -> dict:
    user = request.user
    context = {
        "kind": kind,
        "obj": obj,
        "vm": obj if kind.key == "vm" else None,
        "cluster": obj if kind.key == "cluster" else None,
        "can_use": has_role(user, obj.tenant, Role.USE),
        "can_cancel": obj.state == State.PENDING_APPROVAL
        and (obj.requested_by_id == user.pk or has_role(user, obj.tenant, Role.ADMIN)),
        "can_approve": can_approve(user),
        "spec": obj.spec_snapshot(),
        "vm_actions": [
            ("start", "Start"),
            ("shutdown", "Shut down"),
            ("reboot", "Reboot"),
            ("stop", "Force stop"),
        ],
    }
    if kind.key == "cluster":
        from .models import ClusterChange, KubernetesVersion

        context["versions"] = KubernetesVersion.objects.filter(active=True)
        context["changes"] = ClusterChange.objects.filter(cluster=obj).select_related(
            "node_group", "kubernetes_version", "requested_by"
        )[:50]
    return context


@login_required
def request_detail(request, kind: str, pk: int):
    k = _kind(kind)
    obj = _scoped_object(request, k, pk)
    context = _detail_context(request, k, obj)
    context["tab"] = "overview"
    return render(request, f"portal/{k.key}_detail.html", context)


@login_required
def request_status(request, kind: str, pk: int):
    """The live part of a request page; htmx polls it until the state is final."""
    k = _kind(kind)
    obj = _scoped_object(request, k, pk)
    response = render(request, "portal/_status_panel.html", _detail_context(request, k, obj))
    if obj.is_final and request.headers.get("X-Portal-State") not in ("", None, obj.state):
        # The state settled while the user watched: reload the page so actions and tabs match it.
        response["HX-Refresh"] = "true"
    return response


@login_required
def request_history(request, kind: str, pk: int):
    k = _kind(kind)
    obj = _scoped_object(request, k, pk)
    events = AuditEvent.objects.filter(object_type=k.key, object_id=obj.pk).select_related("actor")
    context = _detail_context(request, k, obj)
    context.update({"tab": "history", "events": events[:500]})
    return render(request, "portal/request_history.html", context)


@login_required
@require_POST
def request_cancel(request, kind: str, pk: int):
    k = _kind(kind)
    obj = _scoped_object(request, k, pk)
    if not (obj.requested_by_id == request.user.pk or has_role(request.user, obj.tenant, Role.ADMIN)):
        raise PermissionDenied("Only the requester or a tenant admin can cancel.")
    try:
        services.cancel(obj, actor=request.user)
    except IllegalTransition as exc:
        messages.error(request, f"Cannot cancel: {exc}.")
    else:
        messages.success(request, f"{obj.name} was cancelled.")
    return redirect(obj.get_absolute_url())


VM_ACTIONS = {"start", "shutdown", "reboot", "stop"}


@login_required
@require_POST
def vm_action(request, pk: int, action: str):
    obj = _scoped_object(request, KINDS["vm"], pk)
    _require_role(request, obj.tenant, Role.USE)
    if action == "delete":
        return _delete(request, obj, "provisioning.tasks.delete_vm")
    if action not in VM_ACTIONS:
        raise Http404("Unknown action.")
    if obj.state != State.READY:
        messages.error(request, f"{obj.name} is {obj.get_state_display().lower()}: power actions need a ready VM.")
        return redirect(obj.get_absolute_url())
    from . import audit

    audit.record(f"vm.{action}", obj, actor=request.user)
    transaction.on_commit(lambda: send("provisioning.tasks.vm_action", obj.pk, action))
    messages.success(request, f"{action.capitalize()} of {obj.name} was requested.")
    return redirect(obj.get_absolute_url())


def _delete(request, obj, task_name: str):
    try:
        transition(obj, State.DELETING, actor=request.user, action="delete-requested")
    except IllegalTransition as exc:
        messages.error(request, f"Cannot delete: {exc}.")
        return redirect(obj.get_absolute_url())
    transaction.on_commit(lambda: send(task_name, obj.pk))
    messages.success(request, f"{obj.name} is being deleted.")
    return redirect(obj.get_absolute_url())


@login_required
@require_POST
def cluster_delete(request, pk: int):
    obj = _scoped_object(request, KINDS["cluster"], pk)
    _require_role(request, obj.tenant, Role.USE)
    return _delete(request, obj, "provisioning.tasks.delete_cluster")


# --- approvals -------------------------------------------------------------------------------------------------


AGES = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "7d": timedelta(days=7)}


@login_required
def approval_queue(request):
    _require_approver(request)
    kind_filter = request.GET.get("kind", "")
    tenant_filter = request.GET.get("tenant", "")
    age = request.GET.get("age", "")
    # Page over (kind, pk, created_at) of both kinds in the database; load only the rows shown.
    keys = None
    for key, kind in KINDS.items():
        if kind_filter and kind_filter != key:
            continue
        qs = kind.model.objects.filter(state=State.PENDING_APPROVAL)
        if tenant_filter:
            qs = qs.filter(tenant__slug=tenant_filter)
        if age in AGES:
            qs = qs.filter(created_at__lte=timezone.now() - AGES[age])
        qs = (
            qs.order_by()
            .annotate(kind_key=Value(key, output_field=CharField()))
            .values_list("kind_key", "pk", "created_at")
        )
        keys = qs if keys is None else keys.union(qs, all=True)
    keys = keys.order_by("created_at", "pk") if keys is not None else []
    page = Paginator(keys, PAGE_SIZE).get_page(request.GET.get("page"))
    loaded = {
        key: kind.queryset().in_bulk([pk for k, pk, _ in page.object_list if k == key]) for key, kind in KINDS.items()
    }
    rows = [loaded[k][pk] for k, pk, _ in page.object_list if pk in loaded[k]]
    usage = usage_by_tenant({r.tenant_id for r in rows})
    for row in rows:
        row.tenant_usage = usage.get(row.tenant_id)
    from .models import ClusterChange

    context = {
        "pending_changes": ClusterChange.objects.filter(state=ClusterChange.Decision.PENDING)
        .select_related(
            "cluster__tenant", "cluster__kubernetes_version", "node_group", "kubernetes_version", "requested_by"
        )
        .order_by("created_at")[:100],
        "page": page,
        "rows": rows,
        "kinds": KINDS,
        "kind_filter": kind_filter,
        "tenant_filter": tenant_filter,
        "age": age,
        "tenants": Tenant.objects.order_by("slug").values_list("slug", flat=True)[:500],
        "reject_form": RejectForm(),
    }
    template = "portal/_approval_table.html" if request.htmx else "portal/approval_queue.html"
    return render(request, template, context)


@login_required
def approval_detail(request, kind: str, pk: int):
    _require_approver(request)
    k = _kind(kind)
    obj = get_object_or_404(k.queryset(), pk=pk)
    quota = quota_of(obj.tenant)
    used = tenant_usage(obj.tenant)
    own = vm_usage(obj) if k.key == "vm" else cluster_usage(obj.node_groups.all())
    counted = obj.state in (State.PENDING_APPROVAL, State.APPROVED, State.PROVISIONING, State.READY)
    before = _minus(used, own) if counted else used
    context = _detail_context(request, k, obj)
    context.update(
        {
            "quota_before": quota_lines(quota, before),
            "quota_after": quota_lines(quota, before, own),
            "placement": _placement_preview(obj),
            "reject_form": RejectForm(),
        }
    )
    return render(request, "portal/approval_detail.html", context)


def _minus(a: Usage, b: Usage) -> Usage:
    return Usage(**{key: getattr(a, key) - getattr(b, key) for key in a.__dataclass_fields__})


def _placement_preview(obj) -> dict:
    """Where provisioning would put it, from live node capacity; an error is shown, not hidden."""
    from .placement import preview_placement

    try:
        return preview_placement(obj)
    except Exception as exc:  # noqa: BLE001 - any failure of the live look-up is shown to the admin
        return {"error": f"Placement preview failed: {exc}"}


@login_required
@require_POST
def approve_view(request, kind: str, pk: int):
    _require_approver(request)
    k = _kind(kind)
    obj = get_object_or_404(k.model, pk=pk)
    try:
        services.approve(obj, actor=request.user, reason=request.POST.get("reason", "").strip()[:2000])
    except (IllegalTransition, services.QuotaExceeded) as exc:
        messages.error(request, f"Not approved: {exc}")
        return redirect("portal:approval-detail", kind=k.key, pk=pk)
    messages.success(request, f"{k.label} {obj.name} approved; provisioning starts.")
    return redirect("portal:approvals")


@login_required
@require_POST
def reject_view(request, kind: str, pk: int):
    _require_approver(request)
    k = _kind(kind)
    obj = get_object_or_404(k.model, pk=pk)
    form = RejectForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Not rejected: " + " ".join(form.errors.get("reason", ["a reason is required."])))
        return redirect("portal:approval-detail", kind=k.key, pk=pk)
    try:
        services.reject(obj, actor=request.user, reason=form.cleaned_data["reason"])
    except IllegalTransition as exc:
        messages.error(request, f"Not rejected: {exc}")
        return redirect("portal:approval-detail", kind=k.key, pk=pk)
    messages.success(request, f"{k.label} {obj.name} rejected.")
    return redirect("portal:approvals")


@login_required
@require_POST
def bulk_decide(request):
    _require_approver(request)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        raise Http404("Unknown decision.")
    reason = request.POST.get("reason", "").strip()[:2000]
    if decision == "reject" and not reason:
        messages.error(request, "Give a reason to reject: the requesters will see it.")
        return redirect("portal:approvals")
    objs = []
    for token in request.POST.getlist("selected")[:200]:
        kind, _, pk = token.partition(":")
        if kind in KINDS and pk.isdigit():
            obj = KINDS[kind].model.objects.filter(pk=int(pk)).select_related("tenant").first()
            if obj is not None:
                objs.append(obj)
    done, errors = services.bulk_decide(objs, actor=request.user, decision=decision, reason=reason)
    verb = "approved" if decision == "approve" else "rejected"
    if done:
        messages.success(request, f"{len(done)} request(s) {verb}.")
    for obj, error in errors.items():
        messages.error(request, f"{obj.name}: {error}")
    if not objs:
        messages.error(request, "Select at least one request.")
    return redirect("portal:approvals")


# --- audit -----------------------------------------------------------------------------------------------------


@login_required
def audit_log(request):
    if not request.user.is_staff:
        raise PermissionDenied("The audit log is for platform admins.")
    qs = AuditEvent.objects.select_related("tenant")
    filters = {key: request.GET.get(key, "").strip()[:100] for key in ("tenant", "actor", "action", "object", "since")}
    if filters["tenant"]:
        qs = qs.filter(tenant__slug=filters["tenant"])
    if filters["actor"]:
        qs = qs.filter(actor_name__icontains=filters["actor"])
    if filters["action"]:
        qs = qs.filter(action=filters["action"])
    if filters["object"] in KINDS or filters["object"] in ("tenant", "quota"):
        qs = qs.filter(object_type=filters["object"])
    if filters["since"] in AGES:
        qs = qs.filter(timestamp__gte=timezone.now() - AGES[filters["since"]])
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "rows": list(page.object_list),
        "filters": filters,
        "ages": AGES,
        "kinds": KINDS,
    }
    template = "portal/_audit_table.html" if request.htmx else "portal/audit_log.html"
    return render(request, template, context)


def healthz(request):
    """Liveness for load balancers: no database, no login."""
    return HttpResponse("ok", content_type="text/plain")


# --- cluster access: kubeconfig and manifests ------------------------------------------------------------------


@login_required
def cluster_kubeconfig(request, pk: int):
    """The tenant cluster's kubeconfig, read from the management cluster on demand; never stored, always audited."""
    obj = _scoped_object(request, KINDS["cluster"], pk)
    _require_role(request, obj.tenant, Role.USE)
    from provisioning.capi.tasks_impl import kubeconfig_for

    try:
        data = kubeconfig_for(obj)
    except Exception as exc:  # noqa: BLE001 - the management cluster may be unreachable; say so
        messages.error(request, f"The management cluster could not be reached: {type(exc).__name__}.")
        return redirect(obj.get_absolute_url())
    if data is None:
        messages.error(request, "The kubeconfig is not available yet: the control plane is still coming up.")
        return redirect(obj.get_absolute_url())
    from . import audit

    audit.record("kubeconfig.download", obj, actor=request.user)
    response = HttpResponse(data, content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="{obj.tenant.slug}-{obj.name}-kubeconfig.yaml"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def cluster_manifests(request, pk: int):
    """The rendered Cluster API objects (no Secrets) for the tenant to read or keep."""
    obj = _scoped_object(request, KINDS["cluster"], pk)
    from provisioning.capi.spec import SpecError
    from provisioning.capi.tasks_impl import manifests_for

    try:
        text = manifests_for(obj)
    except SpecError as exc:
        messages.error(request, f"The manifests cannot be rendered: {exc}")
        return redirect(obj.get_absolute_url())
    response = HttpResponse(text, content_type="application/yaml")
    response["Content-Disposition"] = f'attachment; filename="{obj.tenant.slug}-{obj.name}-capi.yaml"'
    return response


# --- cluster changes: scale and upgrade ------------------------------------------------------------------------


def _change_result(request, cluster, change) -> None:
    from .models import ClusterChange

    if change.state == ClusterChange.Decision.APPLIED:
        messages.success(request, f"Applying: {change.describe()}.")
    else:
        messages.info(request, f"Waiting for an admin's approval: {change.describe()}.")
    del cluster


@login_required
@require_POST
def cluster_scale(request, pk: int):
    from . import changes

    cluster = _scoped_object(request, KINDS["cluster"], pk)
    _require_role(request, cluster.tenant, Role.USE)
    group = get_object_or_404(NodeGroup, cluster=cluster, name=request.POST.get("group", ""))
    try:
        min_replicas = int(request.POST.get("min_replicas", ""))
        max_replicas = int(request.POST.get("max_replicas", ""))
        change = changes.request_scale(
            cluster, group, min_replicas=min_replicas, max_replicas=max_replicas, actor=request.user
        )
    except ValueError as exc:  # ChangeError is a ValueError; so is a non-number
        messages.error(request, f"Not scaled: {exc}" if str(exc) else "Not scaled: give whole numbers.")
    except (IllegalTransition, services.QuotaExceeded) as exc:
        messages.error(request, f"Not scaled: {exc}")
    else:
        _change_result(request, cluster, change)
    return redirect(cluster.get_absolute_url())


@login_required
@require_POST
def cluster_upgrade(request, pk: int):
    from . import changes
    from .models import KubernetesVersion

    cluster = _scoped_object(request, KINDS["cluster"], pk)
    _require_role(request, cluster.tenant, Role.USE)
    version = KubernetesVersion.objects.filter(version=request.POST.get("version", ""), active=True).first()
    if version is None:
        messages.error(request, "That Kubernetes version is not offered.")
        return redirect(cluster.get_absolute_url())
    try:
        change = changes.request_version(cluster, version, actor=request.user)
    except (ValueError, IllegalTransition) as exc:
        messages.error(request, f"Not upgraded: {exc}")
    else:
        _change_result(request, cluster, change)
    return redirect(cluster.get_absolute_url())


@login_required
@require_POST
def change_decide(request, pk: int, action: str):
    from . import changes
    from .models import ClusterChange

    _require_approver(request)
    change = get_object_or_404(ClusterChange.objects.select_related("cluster__tenant", "node_group"), pk=pk)
    reason = request.POST.get("reason", "").strip()[:2000]
    try:
        if action == "approve":
            changes.approve_change(change, actor=request.user, reason=reason)
        elif action == "reject":
            changes.reject_change(change, actor=request.user, reason=reason)
        else:
            raise Http404("Unknown decision.")
    except (ValueError, IllegalTransition, services.QuotaExceeded) as exc:
        messages.error(request, f"Not done: {exc}")
    else:
        messages.success(request, f"Change {action}d: {change.describe()}.")
    return redirect("portal:approvals")
