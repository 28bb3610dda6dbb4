"""Pages and fragments of the provisioner: the pipeline on a VM page, Proxmox task logs, admin retry/cleanup,
VMs found in Proxmox that no request owns."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from portal import audit
from portal.models import VMRequest
from portal.states import IllegalTransition, State

from . import pipeline, tasks
from .models import ProvisionStep, ProxmoxVM, StepState, UnmanagedVM, VMAction
from .proxmox.endpoints import client_for
from .proxmox.errors import ProxmoxError

LOG_LINES = 60
POLL_MS = 2000


def _visible_request(request, pk: int) -> VMRequest:
    return get_object_or_404(VMRequest.objects.for_user(request.user).select_related("tenant", "template"), pk=pk)


def pipeline_context(vm: VMRequest, user) -> dict:
    """Everything the pipeline fragment shows; used by the include on the VM page and by the polling view."""
    steps = list(ProvisionStep.objects.filter(request=vm).order_by("order"))
    current = next((s for s in steps if s.state in (StepState.RUNNING, StepState.FAILED)), None)
    if current is None and vm.state == State.PROVISIONING:
        current = next((s for s in steps if s.state == StepState.PENDING), None)
    pvm = ProxmoxVM.objects.filter(request=vm).select_related("endpoint").first()
    actions = list(VMAction.objects.filter(request=vm)[:5])
    return {
        "vm": vm,
        "steps": [(s, pipeline.STEP_LABELS.get(s.name, s.name)) for s in steps],
        "current_step": current,
        "pvm": pvm,
        "actions": actions,
        "is_admin": bool(getattr(user, "is_staff", False)),
        "can_retry": vm.state == State.FAILED and bool(steps),
        "live_poll": vm.state == State.READY or any(a.state in ("queued", "running") for a in actions),
        "poll_ms": POLL_MS,
    }


@login_required
def vm_pipeline(request, pk: int):
    """The fragment alone, for htmx polling of a ready VM's live state and its actions."""
    vm = _visible_request(request, pk)
    return render(request, "provisioning/_vm_pipeline_body.html", pipeline_context(vm, request.user))


def _task_log(pvm: ProxmoxVM | None, upid: str, node: str) -> tuple[list[str], str]:
    if not upid or pvm is None:
        return [], ""
    try:
        client = client_for(pvm.endpoint)
        lines = client.task_log(upid, node or None, start=0, limit=5000)
        return lines[-LOG_LINES:], ""
    except ProxmoxError as exc:
        return [], exc.message_user


@login_required
def step_log(request, pk: int, name: str):
    vm = _visible_request(request, pk)
    step = ProvisionStep.objects.filter(request=vm, name=name).first()  # none yet: an empty log, not an error
    pvm = ProxmoxVM.objects.filter(request=vm).select_related("endpoint").first()
    upid = step.upid if step else ""
    lines, error = _task_log(pvm, upid, step.node if step else "")
    return render(
        request,
        "provisioning/_task_log.html",
        {
            "lines": lines,
            "error": error,
            "running": bool(step and step.state == StepState.RUNNING),
            "upid": upid,
            "self_url": request.path,
            "poll_ms": POLL_MS,
        },
    )


@login_required
def action_log(request, pk: int, action_id: int):
    vm = _visible_request(request, pk)
    action = VMAction.objects.filter(request=vm, pk=action_id).first()
    pvm = ProxmoxVM.objects.filter(request=vm).select_related("endpoint").first()
    upid = action.upid if action else ""
    lines, error = _task_log(pvm, upid, action.node if action else "")
    return render(
        request,
        "provisioning/_task_log.html",
        {
            "lines": lines,
            "error": error,
            "running": bool(action and action.state in ("queued", "running")),
            "upid": upid,
            "self_url": request.path,
            "poll_ms": POLL_MS,
        },
    )


def _admin_only_request(request, pk: int) -> VMRequest:
    """Platform admins only; to anyone else the object does not exist (404, as elsewhere in the portal)."""
    if not request.user.is_staff:
        raise Http404("No such request.")
    return get_object_or_404(VMRequest, pk=pk)


@login_required
@require_POST
def retry(request, pk: int):
    vm = _admin_only_request(request, pk)
    try:
        first = pipeline.retry_after_failure(vm, actor=request.user)
    except IllegalTransition as exc:
        messages.error(request, f"Cannot retry: {exc}.")
        return redirect(vm.get_absolute_url())
    transaction.on_commit(lambda: tasks.retry_vm.delay(vm.pk))
    messages.success(request, f"Provisioning of {vm.name} restarts at '{pipeline.STEP_LABELS[first]}'.")
    return redirect(vm.get_absolute_url())


@login_required
@require_POST
def cleanup(request, pk: int):
    vm = _admin_only_request(request, pk)
    if vm.state != State.FAILED:
        raise Http404("Only failed requests have leftovers to clean up.")
    row = VMAction.objects.create(request=vm, action="cleanup", actor_name=request.user.get_username())
    audit.record("vm.cleanup", vm, actor=request.user, reason="admin cleanup of Proxmox leftovers")
    transaction.on_commit(lambda: tasks.cleanup_vm.delay(vm.pk, row.pk))
    messages.success(request, f"Cleanup of {vm.name}'s leftovers in Proxmox was started.")
    return redirect(vm.get_absolute_url())


@staff_member_required
def unmanaged(request):
    rows = UnmanagedVM.objects.select_related("endpoint").order_by("endpoint__name", "vmid")
    leftovers = ProxmoxVM.objects.filter(cleanup_pending=True).select_related("request", "endpoint")
    drifted = ProxmoxVM.objects.filter(drifted=True, request__state=State.READY).select_related("request")
    return render(request, "provisioning/unmanaged.html", {"rows": rows, "leftovers": leftovers, "drifted": drifted})
