"""Architecture pages, the status page and /status.json, the bundle linter page and the platform self-test.

Access: architecture pages and the status page need a login (tenants get a per-group summary of the status, staff
the details); the linter and the self-test are for staff only (403 otherwise). /status.json answers without a
login so monitoring can poll it: anonymous callers and tenants get statuses and summaries only (no hosts, no
errors, no details), staff get the details. Logic lives in checks.py, selftest.py and the pure core modules.
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from portal.handoff import send
from portal.models import Origin, VMRequest

from . import checks, selftest, stack
from .bundle import MAX_BUNDLE_BYTES, curated_bundle
from .lint import FLAVOURS, lint, lint_source, worst_by_component
from .models import SelfTestRun
from .svg import render_svg

STATE_COLOURS = checks.COLOURS


def _require_staff(request) -> None:
    if not request.user.is_staff:
        raise PermissionDenied("Only platform admins can do this.")


def _component_link(component) -> str:
    return f"{reverse('architecture:stack')}#component-{component.name}"


@lru_cache(maxsize=1)
def _curated():
    """The curated bundle and its findings never change while the process runs."""
    bundle = curated_bundle()
    return bundle, lint(bundle)


# --- architecture pages -------------------------------------------------------------------------------------


@login_required
@require_GET
def index(request):
    bundle, findings = _curated()
    return render(
        request,
        "architecture/index.html",
        {
            "bundle": bundle,
            "layers": [(layer, comps) for layer, comps in bundle.by_layer() if comps],
            "flows": [stack.FLOWS["kubevirt"], stack.FLOWS["proxmox"]],
        },
    )


@login_required
@require_GET
def stack_page(request):
    bundle, findings = _curated()
    states = checks.cached_component_states()
    layers = []
    for layer, components in reversed(bundle.by_layer()):  # top (services) first, like the picture
        if not components:
            continue
        rows = [
            {
                "component": c,
                "colour": stack.ROLES[c.role].colour,
                "dependents": bundle.dependents(c.name),
                "state": states.get(c.name),
                "state_colour": STATE_COLOURS.get(states.get(c.name, ""), "grey"),
            }
            for c in components
        ]
        layers.append((layer, rows))
    return render(
        request,
        "architecture/stack.html",
        {
            "bundle": bundle,
            "layers": layers,
            "has_states": bool(states),
            "findings": findings,
        },
    )


@login_required
@require_GET
def graph(request):
    bundle, findings = _curated()
    states = checks.cached_component_states() or None
    svg = render_svg(bundle, links=_component_link, states=states)
    return render(request, "architecture/graph.html", {"svg": svg, "bundle": bundle, "has_states": bool(states)})


@login_required
@require_GET
def graph_svg(request):
    bundle, _ = _curated()
    svg = render_svg(bundle, links=lambda c: request.build_absolute_uri(_component_link(c)))
    return HttpResponse(svg, content_type="image/svg+xml; charset=utf-8")


@login_required
@require_GET
def flows(request):
    return render(
        request,
        "architecture/flows.html",
        {
            "flows": [stack.FLOWS["kubevirt"], stack.FLOWS["proxmox"]],
            "comparison": stack.COMPARISON,
        },
    )


@login_required
@require_GET
def journey(request):
    """How the user's own latest VM request (in the current tenant) goes through the Proxmox flow."""
    visible = (
        VMRequest.objects.for_user(request.user)
        .exclude(origin=Origin.SELFTEST)
        .select_related("tenant", "template", "approved_by")
    )
    wanted = request.GET.get("request", "")
    if wanted.isdigit():
        vm = get_object_or_404(visible, pk=int(wanted))
    else:
        tenant = getattr(request, "tenant", None)
        vm = visible.filter(tenant=tenant).order_by("-created_at").first() if tenant else None
    recent = visible.filter(tenant=vm.tenant).order_by("-created_at")[:10] if vm else []
    return render(
        request,
        "architecture/journey.html",
        {
            "vm": vm,
            "steps": _journey(vm) if vm else [],
            "recent": recent,
            "flow": stack.FLOWS["proxmox"],
            "poll": vm is not None and not vm.is_final,
        },
    )


def _journey(vm: VMRequest) -> list[dict]:
    """The Proxmox flow of stack.FLOWS, filled in with this request's own progress (ProvisionStep rows)."""
    from portal.states import State
    from provisioning.models import ProvisionStep, ProxmoxVM, StepState
    from provisioning.pipeline import STEP_LABELS

    flow = {step.actor: step for step in stack.FLOWS["proxmox"].steps}
    steps = {s.name: s for s in ProvisionStep.objects.filter(request=vm)}
    pvm = ProxmoxVM.objects.filter(request=vm).first()
    state = vm.state

    def sub(names):
        rows = []
        for name in names:
            step = steps.get(name)
            status = (
                {
                    StepState.DONE: "done",
                    StepState.SKIPPED: "done",
                    StepState.FAILED: "failed",
                    StepState.RUNNING: "current",
                }.get(step.state, "pending")
                if step
                else "pending"
            )
            text = (step.message_user if step and step.state == StepState.FAILED else step.result) if step else ""
            rows.append({"label": STEP_LABELS.get(name, name), "status": status, "detail": text})
        return rows

    def overall_of(rows, next_up: bool) -> str:
        """failed > done (all) > current (some begun, or it is simply next) > pending."""
        if any(r["status"] == "failed" for r in rows):
            return "failed"
        if rows and all(r["status"] == "done" for r in rows):
            return "done"
        if any(r["status"] in ("current", "done") for r in rows):
            return "current"
        return "current" if next_up and state == State.PROVISIONING else "pending"

    decided = state not in (State.PENDING_APPROVAL,)
    if state == State.PENDING_APPROVAL:
        approval = ("current", "Waiting for a platform admin.")
    elif state in (State.REJECTED, State.CANCELLED):
        approval = ("failed", f"{vm.get_state_display()}: {vm.reason}" if vm.reason else vm.get_state_display())
    else:
        who = vm.approved_by.get_username() if vm.approved_by else "the portal (automatic rule or system)"
        when = f" at {vm.approved_at:%Y-%m-%d %H:%M}" if vm.approved_at else ""
        approval = ("done", f"Approved by {who}{when}.")
    api_rows = sub(["reserve_vmid", "clone", "configure", "resize_disk", "cloud_init"])
    host_rows = sub(["start", "guest_ready"])
    handed_off = bool(steps)
    entries = [
        {
            "actor": "Tenant",
            "flow": flow["Tenant"],
            "status": "done",
            "detail": f"Submitted {vm.created_at:%Y-%m-%d %H:%M} ({vm.get_origin_display()}).",
            "rows": [],
        },
        {"actor": "Admin", "flow": flow["Admin"], "status": approval[0], "detail": approval[1], "rows": []},
        {
            "actor": "Portal worker",
            "flow": flow["Portal worker"],
            "status": "done" if handed_off else ("current" if state == State.APPROVED else "pending"),
            "detail": "The Celery worker took the request and created its pipeline."
            if handed_off
            else ("Waiting for a worker to pick the request up." if state == State.APPROVED else ""),
            "rows": [],
        },
        {
            "actor": "Proxmox API",
            "flow": flow["Proxmox API"],
            "status": overall_of(api_rows, handed_off),
            "detail": f"VMID {pvm.vmid}" if pvm and pvm.vmid else "",
            "rows": api_rows,
        },
        {
            "actor": "Proxmox host",
            "flow": flow["Proxmox host"],
            "status": "done" if state == State.READY else overall_of(host_rows, False),
            "detail": (
                f"Running on {pvm.node}"
                if pvm and pvm.node and pvm.power_state == "running"
                else (f"Power state: {pvm.power_state}" if pvm and pvm.power_state else "")
            ),
            "rows": host_rows,
        },
    ]
    if not decided or state in (State.REJECTED, State.CANCELLED):
        for entry in entries[2:]:
            entry["status"] = "pending" if not decided else "skipped"
    if state == State.FAILED and not any(e["status"] == "failed" for e in entries):
        entries[-1]["status"] = "failed"
        entries[-1]["detail"] = vm.reason
    if state in (State.DELETING, State.DELETED):
        entries.append(
            {
                "actor": "Deletion",
                "flow": None,
                "status": "done" if state == State.DELETED else "current",
                "detail": "The VM was destroyed and its VMID released."
                if state == State.DELETED
                else "The VM is being stopped and destroyed.",
                "rows": [],
            }
        )
    return entries


# --- status -------------------------------------------------------------------------------------------------


@login_required
@require_GET
def status_page(request):
    return render(
        request,
        "architecture/status.html",
        {
            "groups": [(key, label, reverse(f"architecture:status-{key}")) for key, label in checks.GROUPS.items()],
            "detailed": request.user.is_staff,
        },
    )


@login_required
@require_GET
@never_cache
def status_group(request, group: str):
    if group not in checks.GROUPS:
        raise Http404("Unknown check group.")
    refresh = request.user.is_staff and request.GET.get("refresh") == "1"
    results = checks.run_group(group, use_cache=not refresh)
    return render(
        request,
        "architecture/_status_group.html",
        {
            "group": group,
            "summary": checks.group_summary(group, results),
            "results": results,
            "detailed": request.user.is_staff,
            "url": reverse(f"architecture:status-{group}"),
        },
    )


@require_GET
@never_cache
def status_json(request):
    """Monitoring endpoint, no login: statuses and summaries; details only for staff.

    Always 200 with the state in the body; `?strict=1` answers 503 when the state is down, for monitors that only
    look at the HTTP status."""
    detailed = request.user.is_authenticated and request.user.is_staff
    document = checks.status_document(checks.run_all(), detailed=detailed)
    strict = request.GET.get("strict") == "1"
    return JsonResponse(document, status=503 if strict and document["status"] == checks.DOWN else 200)


# --- bundle linter (staff) ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def lint_page(request):
    _require_staff(request)
    context = {"flavours": FLAVOURS, "flavour": "auto", "text": "", "max_size": f"{MAX_BUNDLE_BYTES / 1_000_000:g} MB"}
    if request.method == "POST":
        flavour = request.POST.get("flavour", "auto")
        if flavour not in FLAVOURS:
            flavour = "auto"
        upload = request.FILES.get("file")
        if upload is not None:
            source: str | bytes = upload.read(MAX_BUNDLE_BYTES + 1)  # one byte more: load_bundle refuses it
            name = upload.name.rsplit("/", 1)[-1].removesuffix(".yaml").removesuffix(".yml")[:100] or "upload"
        else:
            source = request.POST.get("text", "")
            name = (request.POST.get("name") or "pasted bundle").strip()[:100]
            context["text"] = source if len(source) <= MAX_BUNDLE_BYTES else ""
        context["flavour"] = flavour
        if not source.strip():
            context["error"] = "Paste a bundle or choose a file."
        else:
            report = lint_source(source, name=name, flavour=flavour)
            context["report"] = report
            if report.bundle is not None:
                context["svg"] = render_svg(report.bundle, issues=worst_by_component(report.findings))
    return render(request, "architecture/lint.html", context)


# --- platform self-test (staff) -----------------------------------------------------------------------------


@login_required
@require_GET
def selftest_page(request):
    _require_staff(request)
    selftest.fail_stale_runs()
    runs = list(SelfTestRun.objects.select_related("started_by")[:10])
    run = _chosen_run(request, runs)
    return render(
        request,
        "architecture/selftest.html",
        {
            "run": run,
            "runs": runs,
            "active": selftest.active_run(),
            "steps_help": selftest.STEPS,
        },
    )


def _chosen_run(request, runs):
    wanted = request.GET.get("run", "")
    if wanted.isdigit():
        return get_object_or_404(SelfTestRun, pk=int(wanted))
    return runs[0] if runs else None


@login_required
@require_POST
def selftest_start(request):
    _require_staff(request)
    if selftest.active_run() is not None:
        messages.error(request, "A self-test is already running; wait for it to finish.")
        return redirect("architecture:selftest")
    run = selftest.start(request.user)
    from portal import audit

    audit.record("selftest.started", actor=request.user, reason=f"Platform self-test run {run.pk}")
    transaction.on_commit(lambda: send("architecture.tasks.run_selftest", run.pk))
    messages.success(request, f"Self-test {run.pk} queued: a worker runs it now.")
    return redirect(f"{reverse('architecture:selftest')}?run={run.pk}")


@login_required
@require_GET
@never_cache
def selftest_steps(request):
    """The htmx partial: the steps of a run (latest by default); polls itself until the run is final."""
    _require_staff(request)
    runs = list(SelfTestRun.objects.select_related("started_by")[:1])
    run = _chosen_run(request, runs)
    response = render(request, "architecture/_selftest_steps.html", {"run": run})
    if request.htmx and run is not None and run.is_final:
        # The run finished while the page watched: reload it so the button and the run list match.
        response["HX-Refresh"] = "true"
    return response
