"""The migration wizard in the browser: Source → VMs → Network map → Storage map → Target → Review → Progress.

Every plan is a tenant object: other tenants' plans are 404. Reading needs the view role, changing needs use.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import yaml
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal import audit
from portal.models import KubernetesVersion, Role
from portal.states import FINAL_STATES, IN_FLIGHT_STATES
from portal.tenancy import has_role

from . import crypto
from .forms import NamespacesForm, PasteForm, PlanForm, usable_tenants
from .models import MigrationItem, MigrationPlan
from .sources import MAX_TOTAL_BYTES, LiveCluster, SourceError, check_manifests, mib, parse_kubeconfig, read_uploads
from .wizard import engine, review
from .wizard.submit import SubmitError, build_orders, order_notes, submit

UPLOAD_SLACK = 512 * 1024  # multipart overhead on top of the file limit


# ------------------------------------------------------------------------------------------------- helpers
def _plan(request, pk: int, *, edit: bool = False) -> MigrationPlan:
    plan = get_object_or_404(MigrationPlan.objects.for_user(request.user).select_related("tenant"), pk=pk)
    if edit and not has_role(request.user, plan.tenant, Role.USE):
        raise PermissionDenied(f"Your role in {plan.tenant.slug} does not allow changing plans.")
    return plan


def _editable(request, plan: MigrationPlan):
    """None when the plan may be changed, else a redirect to its progress page."""
    if plan.editable:
        return None
    messages.info(request, "This plan was submitted; it can no longer be changed. Duplicate it to start over.")
    return redirect("migration:progress", plan.pk)


def _wizard(request, plan, step: str, context: dict, status: int = 200):
    ctx = context.get("ctx", engine.build_context(plan))
    states = engine.step_states(plan, ctx)
    current = next(s for s in states if s["key"] == step)
    context.update(
        {
            "plan": plan,
            "ctx": ctx,
            "steps": states,
            "step": current,
            "next_step": _next(step),
            "can_edit": plan.editable and has_role(request.user, plan.tenant, Role.USE),
        }
    )
    return render(request, f"migration/step_{step}.html", context, status=status)


def _next(step: str) -> str | None:
    index = engine.STEP_KEYS.index(step)
    return engine.STEP_KEYS[index + 1] if index + 1 < len(engine.STEP_KEYS) else None


def _locked(request, plan, step: str):
    """Redirect to the first step with errors when `step` lies behind it (the browser only helps)."""
    if request.method == "POST" and not plan.editable:
        return _editable(request, plan)
    states = engine.step_states(plan, engine.build_context(plan))
    state = next(s for s in states if s["key"] == step)
    if state["locked"]:
        first = engine.first_open_step(states)
        return redirect("migration:" + first, plan.pk)
    return None


def _after_save(request, plan, step: str):
    """Go on to the next step when this one is complete, else stay and show what is missing."""
    ctx = engine.build_context(plan)
    errors = engine.step_errors(plan, ctx, step)
    if request.POST.get("go") == "next" and not errors:
        return redirect("migration:" + _next(step), plan.pk)
    if request.POST.get("go") == "next":
        return _wizard(request, plan, step, {"ctx": ctx, "blocked": True}, status=422)
    # Also for htmx autosave: XHR follows the redirect and the step re-renders with its new errors and Next.
    return redirect("migration:" + step, plan.pk)


# ------------------------------------------------------------------------------------------------ plan list
@login_required
def plan_list(request):
    plans = (
        MigrationPlan.objects.for_user(request.user)
        .select_related("tenant", "owner")
        .annotate(vm_count=Count("items"), selected_count=Count("items", filter=Q(items__selected=True)))
    )
    if request.tenant is not None and not request.user.is_staff:
        plans = plans.filter(tenant=request.tenant)
    status = request.GET.get("status", "")
    if status in MigrationPlan.Status.values:
        plans = plans.filter(status=status)
    return render(
        request,
        "migration/plan_list.html",
        {"plans": plans[:200], "status": status, "can_create": bool(usable_tenants(request.user))},
    )


@login_required
def plan_create(request):
    form = PlanForm(request.POST or None, user=request.user, initial={"tenant": getattr(request.tenant, "slug", "")})
    if not form.tenants:
        raise PermissionDenied("You need the use role in a tenant to plan a migration.")
    if request.method == "POST" and form.is_valid():
        plan = MigrationPlan.objects.create(
            tenant=form.cleaned_data["tenant"], owner=request.user, name=form.cleaned_data["name"]
        )
        audit.record("migration-plan-created", plan, actor=request.user)
        return redirect("migration:source", plan.pk)
    return render(request, "migration/plan_create.html", {"form": form}, status=422 if form.errors else 200)


@login_required
@require_POST
def plan_delete(request, pk: int):
    plan = _plan(request, pk, edit=True)
    name = plan.name
    audit.record("migration-plan-deleted", plan, actor=request.user, reason="The stored kubeconfig went with it.")
    plan.delete()  # items and the kubeconfig go with it; submitted requests stay in the portal
    messages.success(request, f"Plan “{name}” was deleted.")
    return redirect("migration:plans")


@login_required
@require_POST
def plan_duplicate(request, pk: int):
    plan = _plan(request, pk, edit=True)
    copy = MigrationPlan.objects.create(
        tenant=plan.tenant,
        owner=request.user,
        name=f"{plan.name} (copy)"[:100],
        source_kind=plan.source_kind,
        source_description=plan.source_description,
        source_text=plan.source_text,
        mappings=plan.mappings,
        target=plan.target,
        rules_version=plan.rules_version,
    )  # the kubeconfig is not copied: it belongs to the original plan only
    MigrationItem.objects.bulk_create(
        [
            MigrationItem(
                plan=copy,
                namespace=i.namespace,
                name=i.name,
                kind=i.kind,
                replica=i.replica,
                selected=i.selected,
                accept_critical=i.accept_critical,
                mode=i.mode,
                target_name=i.target_name,
                summary=i.summary,
            )
            for i in plan.items.all()
        ]
    )
    messages.success(request, f"Copied to “{copy.name}”.")
    return redirect("migration:source", copy.pk)


# ----------------------------------------------------------------------------------------------- 1. source
def configured_kubeconfig() -> dict | None:
    path = getattr(settings, "MIGRATION_SOURCE_KUBECONFIG", "")
    if not path or not Path(path).is_file():
        return None
    return yaml.safe_load(Path(path).read_text())


def _kubeconfig_for(plan, use_configured: bool) -> dict:
    if use_configured:
        config = configured_kubeconfig()
        if config is None:
            raise SourceError("No source cluster is configured for the portal; upload a kubeconfig.")
        return config
    if not plan.kubeconfig_token:
        raise SourceError("Upload a kubeconfig first.")
    try:
        return parse_kubeconfig(crypto.decrypt(plan.kubeconfig_token))
    except ValueError as exc:
        raise SourceError(str(exc)) from None


@login_required
def step_source(request, pk: int):
    plan = _plan(request, pk)
    context: dict = {"paste": PasteForm(), "configured": configured_kubeconfig() is not None}
    if request.method != "POST":
        return _wizard(request, plan, "source", context)
    plan = _plan(request, pk, edit=True)
    if (response := _editable(request, plan)) is not None:
        return response
    action = request.GET.get("action") or request.POST.get("action", "")
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    try:
        if length > MAX_TOTAL_BYTES + UPLOAD_SLACK:
            raise SourceError(f"The upload is {mib(length)}; the limit is {mib(MAX_TOTAL_BYTES)}. Nothing was saved.")
        if action == "paste":
            form = PasteForm(request.POST)
            context["paste"] = form
            if not form.is_valid():
                return _wizard(request, plan, "source", context, status=422)
            text = check_manifests(form.cleaned_data["manifests"], "the pasted text")
            engine.replace_source(plan, text, MigrationPlan.SourceKind.PASTE, "Pasted YAML")
        elif action == "upload":
            text, description = read_uploads(request.FILES.getlist("files"))
            engine.replace_source(plan, text, MigrationPlan.SourceKind.UPLOAD, description)
        elif action == "connect":
            return _connect(request, plan, context)
        elif action == "import":
            return _import(request, plan, context)
        elif action == "forget":
            plan.kubeconfig_token = ""
            plan.save(update_fields=["kubeconfig_token", "updated_at"])
            messages.success(request, "The stored kubeconfig was deleted.")
            return redirect("migration:source", plan.pk)
        else:
            raise SourceError("Choose how to add manifests.")
    except (SourceError, engine.PlanError) as exc:
        context["source_error"] = str(exc)
        context["active_tab"] = action
        return _wizard(request, plan, "source", context, status=422)
    messages.success(request, f"Read {plan.items.count()} VM(s) from the source.")
    return _after_save(request, plan, "source")


def _connect(request, plan, context):
    use_configured = request.POST.get("use_configured") == "1"
    context["active_tab"] = "cluster"
    upload = request.FILES.get("kubeconfig")
    if use_configured:
        config, token = _kubeconfig_for(plan, True), None
    elif upload is not None:
        data = upload.read(256 * 1024 + 1)
        config, token = parse_kubeconfig(data), crypto.encrypt(data)
    else:
        config, token = _kubeconfig_for(plan, False), None
    cluster = LiveCluster(config)
    try:
        namespaces = cluster.namespaces()
        found = cluster.vm_names(namespaces)
    finally:
        cluster.close()
    if token is not None:  # stored only once it has proved to work
        plan.kubeconfig_token = token
        plan.save(update_fields=["kubeconfig_token", "updated_at"])
        audit.record("migration-kubeconfig-stored", plan, actor=request.user, reason="Encrypted, for this plan only.")
    context.update(
        {
            "namespaces": [(ns, found.get(ns, [])) for ns in namespaces],
            "use_configured": use_configured,
        }
    )
    return _wizard(request, plan, "source", context)


def _import(request, plan, context):
    use_configured = request.POST.get("use_configured") == "1"
    context["active_tab"] = "cluster"
    config = _kubeconfig_for(plan, use_configured)
    cluster = LiveCluster(config)
    try:
        namespaces = cluster.namespaces()
        form = NamespacesForm(request.POST, namespaces=namespaces)
        if not form.is_valid():
            raise SourceError(" ".join(str(e) for e in form.errors.get("namespaces", ["Choose namespaces."])))
        chosen = form.cleaned_data["namespaces"]
        text = cluster.export(chosen)
    finally:
        cluster.close()
    where = "the portal's source cluster" if use_configured else "an uploaded kubeconfig"
    engine.replace_source(
        plan, text, MigrationPlan.SourceKind.CLUSTER, f"Live cluster ({where}), namespaces: {', '.join(chosen)}"
    )
    messages.success(request, f"Read {plan.items.count()} VM(s) from the cluster.")
    return _after_save(request, plan, "source")


# ------------------------------------------------------------------------------------------------ 2. VMs
@login_required
def step_vms(request, pk: int):
    plan = _plan(request, pk)
    if (response := _locked(request, plan, "vms")) is not None:
        return response
    if request.method == "POST":
        plan = _plan(request, pk, edit=True)
        if (response := _editable(request, plan)) is not None:
            return response
        selected = set(request.POST.getlist("selected"))
        accepted = set(request.POST.getlist("accept"))
        deselect_critical = request.POST.get("go") == "deselect-critical"
        for item in plan.items.all():
            item.selected = str(item.pk) in selected
            item.accept_critical = str(item.pk) in accepted
            if deselect_critical and item.critical_count and not item.accept_critical:
                item.selected = False
            item.save(update_fields=["selected", "accept_critical"])
        if deselect_critical:
            messages.info(request, "VMs with Critical concerns were deselected.")
            return redirect("migration:vms", plan.pk)
        return _after_save(request, plan, "vms")
    items = list(plan.items.all())
    q = request.GET.get("q", "").strip()[:100]
    ns = request.GET.get("namespace", "")
    concern = request.GET.get("concern", "")
    namespaces = sorted({i.namespace for i in items})
    shown = [
        i
        for i in items
        if (not q or q.lower() in i.name.lower())
        and (not ns or i.namespace == ns)
        and (not concern or (i.summary.get("concerns") or {}).get(concern))
    ]
    return _wizard(
        request, plan, "vms", {"items": shown, "all_count": len(items), "q": q, "ns": ns, "concern": concern,
                               "namespaces": namespaces}
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ 3. network map
@login_required
def step_network(request, pk: int):
    plan = _plan(request, pk)
    if (response := _locked(request, plan, "network")) is not None:
        return response
    ctx = engine.build_context(plan)
    needed = ctx.needed_networks()
    networks = list(engine.tenant_networks(plan))
    if request.method == "POST":
        plan = _plan(request, pk, edit=True)
        if (response := _editable(request, plan)) is not None:
            return response
        valid = {str(n.pk): n.pk for n in networks}
        chosen, errors = dict((plan.mappings or {}).get("network") or {}), []
        for key in needed:
            value = request.POST.get(f"net:{key}", "")
            if value in valid:
                chosen[key] = valid[value]
            elif value:
                errors.append(f"“{key}”: that network does not belong to {plan.tenant.slug}.")
            else:
                chosen.pop(key, None)
        if errors:
            return _wizard(request, plan, "network", _net_context(ctx, needed, networks, errors), status=422)
        plan.mappings = {**(plan.mappings or {}), "network": chosen}
        plan.save(update_fields=["mappings", "updated_at"])
        return _after_save(request, plan, "network")
    return _wizard(request, plan, "network", _net_context(ctx, needed, networks, []))


def _net_context(ctx, needed, networks, errors) -> dict:
    rows = [
        {"key": key, "vms": vms, "chosen": getattr(ctx.maps.networks.get(key), "pk", None)}
        for key, vms in needed.items()
    ]
    return {"ctx": ctx, "rows": rows, "networks": networks, "form_errors": errors}


# ------------------------------------------------------------------------------------------ 4. storage map
@login_required
def step_storage(request, pk: int):
    plan = _plan(request, pk)
    if (response := _locked(request, plan, "storage")) is not None:
        return response
    ctx = engine.build_context(plan)
    templates = list(engine.tenant_templates(plan))
    if request.method == "POST":
        plan = _plan(request, pk, edit=True)
        if (response := _editable(request, plan)) is not None:
            return response
        storage = dict((plan.mappings or {}).get("storage") or {})
        images = dict((plan.mappings or {}).get("templates") or {})
        valid_templates = {str(t.pk): t.pk for t in templates}
        errors = []
        for key in ctx.needed_storage():
            value = request.POST.get(f"storage:{key}", "").strip()
            if not value:
                storage.pop(key, None)
            elif engine.STORAGE_ID.match(value):
                storage[key] = value
            else:
                errors.append(f"“{value[:40]}” is not a valid Proxmox storage ID.")
        for key in ctx.needed_images():
            value = request.POST.get(f"template:{key}", "")
            if value in valid_templates:
                images[key] = valid_templates[value]
            elif value:
                errors.append(f"“{key}”: that template is not offered to {plan.tenant.slug}.")
            else:
                images.pop(key, None)
        if errors:
            return _wizard(request, plan, "storage", _storage_context(ctx, plan, templates, errors), status=422)
        plan.mappings = {**(plan.mappings or {}), "storage": storage, "templates": images}
        plan.save(update_fields=["mappings", "updated_at"])
        return _after_save(request, plan, "storage")
    return _wizard(request, plan, "storage", _storage_context(ctx, plan, templates, []))


def _storage_context(ctx, plan, templates, errors) -> dict:
    storage_rows = [
        {"key": k, "vms": v, "chosen": ctx.maps.storage.get(k, "")} for k, v in ctx.needed_storage().items()
    ]
    image_rows = [
        {"key": k, "vms": v, "chosen": getattr(ctx.maps.templates.get(k), "pk", None)}
        for k, v in ctx.needed_images().items()
    ]
    return {
        "ctx": ctx,
        "storage_rows": storage_rows,
        "image_rows": image_rows,
        "templates": templates,
        "storages": engine.storage_choices(plan),
        "form_errors": errors,
    }


# ------------------------------------------------------------------------------------------------ 5. target
@login_required
def step_target(request, pk: int):
    plan = _plan(request, pk)
    if (response := _locked(request, plan, "target")) is not None:
        return response
    tenants = usable_tenants(request.user)
    if request.method == "POST":
        plan = _plan(request, pk, edit=True)
        if (response := _editable(request, plan)) is not None:
            return response
        errors = []
        slug = request.POST.get("tenant", plan.tenant.slug)
        tenant = next((t for t in tenants if t.slug == slug), None)
        changed = tenant is not None and tenant.pk != plan.tenant_id
        if tenant is None:
            errors.append("You cannot order VMs for that tenant.")
        elif changed:
            plan.tenant = tenant
            plan.mappings = {k: v for k, v in (plan.mappings or {}).items() if k == "storage"}
            messages.info(request, f"Target tenant changed to {tenant.slug}: map the networks and templates again.")
        target = dict(plan.target or {})
        target["node"] = request.POST.get("node", "").strip()[:64]
        target["ssh_keys"] = request.POST.get("ssh_keys", "")[:20000]
        target["cluster_name"] = request.POST.get("cluster_name", "").strip()[:63]
        for key in ("cluster_network", "kubernetes_version"):
            value = request.POST.get(key, "")
            target[key] = int(value) if value.isdigit() else None
        plan.target = target
        for item in plan.items.filter(selected=True):
            mode = request.POST.get(f"mode:{item.pk}", item.mode)
            item.mode = mode if mode in MigrationItem.Mode.values else item.mode
            item.target_name = request.POST.get(f"name:{item.pk}", item.target_name).strip()[:63]
            item.save(update_fields=["mode", "target_name"])
        if errors:
            return _wizard(request, plan, "target", _target_context(plan, tenants, errors), status=422)
        plan.save()
        if changed or request.POST.get("go") != "next":
            return redirect("migration:target", plan.pk)
        return _after_save(request, plan, "target")
    return _wizard(request, plan, "target", _target_context(plan, tenants, []))


def _target_context(plan, tenants, errors) -> dict:
    return {
        "tenants": tenants,
        "endpoint": plan.tenant.effective_endpoint(),
        "items": plan.items.filter(selected=True),
        "networks": engine.tenant_networks(plan).exclude(cidr=""),
        "versions": KubernetesVersion.objects.filter(active=True),
        "modes": MigrationItem.Mode.choices,
        "form_errors": errors,
    }


# ------------------------------------------------------------------------------------------------ 6. review
def _review_data(plan):
    ctx = engine.build_context(plan)
    states = engine.step_states(plan, ctx)
    if any(s["errors"] for s in states):
        return ctx, None, []
    # A submitted plan's orders exist already: checking them again would only report its own names as taken.
    orders = build_orders(ctx) if plan.editable else None
    unmapped = engine.convert_plan(plan, with_maps=False)
    by_key = {engine.item_key(p): p for p in unmapped.plans}
    rows = []
    for item in ctx.selected:
        vm_plan = ctx.vm_plan(item)
        if vm_plan is None:
            continue
        rows.append(
            {
                "item": item,
                "plan": vm_plan,
                "concerns": review.sorted_concerns(vm_plan.concerns),
                "source_lines": review.marked_source(vm_plan.source_doc or {}, vm_plan.concerns),
                "result_lines": review.marked_result(vm_plan, by_key.get(engine.item_key(vm_plan))),
                "errors": orders.errors.get(item.pk, []) if orders else [],
                "notes": order_notes(ctx, vm_plan),
            }
        )
    return ctx, orders, rows


@login_required
def step_review(request, pk: int):
    plan = _plan(request, pk)
    if (response := _locked(request, plan, "review")) is not None:
        return response
    ctx, orders, rows = _review_data(plan)
    return _wizard(request, plan, "review", {"ctx": ctx, "orders": orders, "rows": rows})


@login_required
@require_POST
def plan_submit(request, pk: int):
    plan = _plan(request, pk, edit=True)
    if (response := _editable(request, plan)) is not None:
        return response
    if (response := _locked(request, plan, "review")) is not None:
        return response
    ctx, orders, rows = _review_data(plan)
    try:
        created = submit(ctx, orders, actor=request.user)
    except SubmitError as exc:
        context = {"ctx": ctx, "orders": orders, "rows": rows, "submit_errors": exc.messages}
        return _wizard(request, plan, "review", context, status=422)
    messages.success(request, f"Submitted {len(created)} request(s) to the approval queue.")
    return redirect("migration:progress", plan.pk)


@login_required
def plan_download(request, pk: int):
    plan = _plan(request, pk)
    try:
        result = engine.convert_plan(plan)
    except engine.PlanError as exc:
        messages.error(request, str(exc))
        return redirect("migration:source", plan.pk)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in review.archive_files(plan, result).items():
            archive.writestr(f"migration-plan-{plan.pk}/{name}", text)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="migration-plan-{plan.pk}.zip"'
    return response


# ----------------------------------------------------------------------------------------------- progress
def progress_rows(plan) -> list[dict]:
    rows = []
    for item in plan.items.filter(selected=True).select_related("vm_request", "cluster_request"):
        request_obj = item.vm_request or item.cluster_request
        rows.append({"item": item, "obj": request_obj, "kind": "vm" if item.vm_request_id else "cluster"})
    return rows


@login_required
def plan_progress(request, pk: int):
    plan = _plan(request, pk)
    if plan.editable:
        return redirect("migration:source", plan.pk)
    rows = progress_rows(plan)
    states = {row["obj"].state for row in rows if row["obj"] is not None}
    final = all(s in FINAL_STATES for s in states)
    context = {
        "plan": plan,
        "rows": rows,
        "final": final,
        "poll_ms": settings.PORTAL_POLL_INTERVAL_MS if states & IN_FLIGHT_STATES else 10000,
        "is_admin": request.user.is_staff,
    }
    if request.htmx:
        response = render(request, "migration/_progress.html", context)
        if final:
            response.status_code = 286  # htmx stops polling
        return response
    return render(request, "migration/progress.html", context)
