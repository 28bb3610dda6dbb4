"""Celery tasks: the provisioning chain (one task per step), power actions, deletion, and the periodic syncs.

Every task is `acks_late`; the provisioning and deletion tasks also `reject_on_worker_lost`: a worker killed
mid-task leaves the message to be delivered again, and the step it was running is idempotent. (Power actions are
not redelivered: a reboot must not happen twice.) Transient Proxmox errors re-queue the first unfinished step with
exponential backoff up to a cap; permanent ones (or too many attempts) fail the request and clean up.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from portal.lifecycle import transition
from portal.models import VMRequest
from portal.states import State

from . import pipeline, sync
from .capi import tasks_impl as capi_tasks
from .models import ProvisionStep, ProxmoxVM, VMAction
from .proxmox import operations as ops
from .proxmox.endpoints import client_for
from .proxmox.errors import PermanentError, ProxmoxError, TransientError

log = logging.getLogger(__name__)
POWER_ACTIONS = ("start", "shutdown", "reboot", "stop")


def _max_attempts() -> int:
    return int(pipeline.setting("PROVISIONING_MAX_ATTEMPTS", 6))


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="provisioning.tasks.provision_vm")
def provision_vm(self, vm_request_id: int) -> None:
    """Hand-off from the portal after approval: start the chain."""
    first = pipeline.begin(vm_request_id)
    if first is not None:
        run_step.delay(vm_request_id, first)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="provisioning.tasks.run_step")
def run_step(self, vm_request_id: int, step_name: str) -> str | None:
    try:
        following = pipeline.run_step(vm_request_id, step_name)
    except PermanentError as exc:
        log.info("request %s step %s failed: %s", vm_request_id, step_name, exc.message_admin)
        pipeline.fail(vm_request_id, step_name, exc)
        return None
    except TransientError as exc:
        _retry_later(vm_request_id, step_name, exc)
        return None
    except Exception as exc:  # a bug or a database hiccup: retry like a transient error, then give up
        log.exception("request %s step %s crashed", vm_request_id, step_name)
        wrapped = TransientError(
            "An internal error occurred while provisioning.", f"{type(exc).__name__}: {exc}", code="internal"
        )
        _retry_later(vm_request_id, step_name, wrapped)
        return None
    if following is not None:
        run_step.delay(vm_request_id, following)
    return following


def _retry_later(vm_request_id: int, step_name: str, exc: ProxmoxError) -> None:
    step = ProvisionStep.objects.filter(request_id=vm_request_id, name=step_name).first()
    attempts = step.attempts if step else 1
    if attempts >= _max_attempts():
        pipeline.fail(vm_request_id, step_name, exc)
        return
    request = VMRequest.objects.get(pk=vm_request_id)
    resume = pipeline.next_pending(request) or step_name  # e.g. back to reserve_vmid after a VMID conflict
    delay = pipeline.backoff(attempts - 1)
    if step is not None:
        step.message_user = f"{exc.message_user} Retrying in {delay:.0f} s (attempt {attempts} of {_max_attempts()})."
        step.save(update_fields=["message_user"])
    run_step.apply_async((vm_request_id, resume), countdown=delay)


# ------------------------------------------------------------------------------------------ clusters (capi)
CLUSTER_TASK_MAX_RETRIES = 8


def _cluster_retry(task, cluster_request_id: int, exc: Exception) -> str:
    """Back off 10 s, 20 s, ... (cap 5 min); after the last retry the request fails with the reason."""
    if task.request.retries >= CLUSTER_TASK_MAX_RETRIES:
        capi_tasks.fail_cluster(cluster_request_id, str(exc))
        return "failed"
    raise task.retry(exc=exc, countdown=min(300, 10 * 2**task.request.retries), max_retries=CLUSTER_TASK_MAX_RETRIES)


@shared_task(bind=True, acks_late=True, name="provisioning.tasks.provision_cluster")
def provision_cluster(self, cluster_request_id: int) -> str:
    """Hand-off after approval: render the Cluster API objects and apply them; sync_clusters marks it ready."""
    try:
        return capi_tasks.provision_cluster(cluster_request_id)
    except capi_tasks.RetryableClusterError as exc:
        return _cluster_retry(self, cluster_request_id, exc)


@shared_task(bind=True, acks_late=True, name="provisioning.tasks.apply_cluster_changes")
def apply_cluster_changes(self, cluster_request_id: int) -> str:
    """After an approved scale / Kubernetes version change saved on the models: re-render and re-apply."""
    try:
        return capi_tasks.apply_cluster_changes(cluster_request_id)
    except capi_tasks.RetryableClusterError as exc:
        return _cluster_retry(self, cluster_request_id, exc)


@shared_task(bind=True, acks_late=True, name="provisioning.tasks.delete_cluster")
def delete_cluster(self, cluster_request_id: int) -> str:
    """The request is `deleting`: delete the Cluster object; sync_clusters marks it deleted once CAPI is done."""
    try:
        return capi_tasks.delete_cluster(cluster_request_id)
    except capi_tasks.RetryableClusterError as exc:
        return _cluster_retry(self, cluster_request_id, exc)


@shared_task(acks_late=True, name="provisioning.tasks.sync_clusters")
def sync_clusters() -> dict:
    """Periodic: one label-selected list call per kind for all clusters; provisioning -> ready, deleting -> deleted."""
    return capi_tasks.sync_clusters()


# ------------------------------------------------------------------------------------------ actions
def _action_row(request: VMRequest, action: str, action_id: int | None) -> VMAction:
    if action_id is not None:
        row = VMAction.objects.filter(pk=action_id, request=request).first()
        if row is not None:
            return row
    return VMAction.objects.create(request=request, action=action, actor_name="system:portal")


def _finish_action(row: VMAction, state: str, message: str = "", admin: str = "") -> None:
    row.state = state
    row.finished_at = timezone.now()
    row.message_user = message
    row.message_admin = admin
    row.save(update_fields=["state", "finished_at", "message_user", "message_admin"])


@shared_task(bind=True, acks_late=True, name="provisioning.tasks.vm_action")
def vm_action(self, vm_request_id: int, action: str, action_id: int | None = None) -> str:
    if action not in POWER_ACTIONS:
        raise ValueError(f"unknown action {action}")
    request = VMRequest.objects.get(pk=vm_request_id)
    row = _action_row(request, action, action_id)
    pvm = ProxmoxVM.objects.filter(request=request).select_related("endpoint").first()
    if request.state != State.READY or pvm is None or pvm.vmid is None:
        _finish_action(row, VMAction.State.FAILED, "The VM is not ready, so it cannot be changed.")
        return row.state
    row.state, row.started_at = VMAction.State.RUNNING, timezone.now()
    row.save(update_fields=["state", "started_at"])
    client = client_for(pvm.endpoint)
    try:
        message = _power(client, pvm, row, action)
    except TransientError as exc:
        if self.request.retries < _max_attempts() - 1:
            row.message_user = f"{exc.message_user} Retrying."
            row.save(update_fields=["message_user"])
            raise self.retry(countdown=pipeline.backoff(self.request.retries), exc=exc) from exc
        _finish_action(row, VMAction.State.FAILED, exc.message_user, exc.message_admin)
        return row.state
    except ProxmoxError as exc:
        _finish_action(row, VMAction.State.FAILED, exc.message_user, exc.message_admin)
        return row.state
    _finish_action(row, VMAction.State.DONE, message)
    sync.refresh_one(pvm, client)
    from portal import audit

    audit.record(f"vm_{action}", request, system_actor=pipeline.SYSTEM_ACTOR, reason=message)
    return row.state


def _power(client, pvm: ProxmoxVM, row: VMAction, action: str) -> str:
    item = ops.find_vm(client, pvm.vmid)
    if item is None:
        ProxmoxVM.objects.filter(pk=pvm.pk).update(drifted=True, drifted_since=timezone.now())
        raise PermanentError("The VM no longer exists in Proxmox.", f"VM {pvm.vmid} missing", code="vm_missing")
    node, status = item["node"], item.get("status")
    if action == "start" and status == "running":
        return "The VM was already running."
    if action in ("shutdown", "stop") and status == "stopped":
        return "The VM was already stopped."
    if action == "reboot" and status != "running":
        return "The VM is not running; start it instead."
    params = {}
    timeout = pipeline.setting("PROVISIONING_TASK_TIMEOUT", 900)
    if action == "shutdown":  # ask the guest, and stop it hard if it does not go within the timeout
        grace = int(pipeline.setting("PROVISIONING_SHUTDOWN_TIMEOUT", 120))
        params = {"timeout": grace, "forceStop": 1}
        timeout = grace + 120
    upid = ops.power(client, node, pvm.vmid, action, **params)
    row.upid, row.node = upid or "", node
    row.save(update_fields=["upid", "node"])
    client.wait_task(upid, node=node, timeout=timeout)
    return {"start": "Started.", "shutdown": "Shut down.", "reboot": "Rebooted.", "stop": "Stopped."}[action]


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="provisioning.tasks.delete_vm")
def delete_vm(self, vm_request_id: int, action_id: int | None = None) -> str:
    """Stop (if running), destroy with purge, delete the cloud-init ISO, release the VMID; then `deleted`."""
    request = VMRequest.objects.get(pk=vm_request_id)
    if request.state != State.DELETING:
        return request.state
    row = _action_row(request, "delete", action_id)
    row.state, row.started_at = VMAction.State.RUNNING, row.started_at or timezone.now()
    row.save(update_fields=["state", "started_at"])
    pvm = ProxmoxVM.objects.filter(request=request).select_related("endpoint").first()
    try:
        done = pipeline.remove_vm(pvm, on_task=_task_recorder(row)) if pvm is not None else []
    except TransientError as exc:
        if self.request.retries < _max_attempts() - 1:
            row.message_user = f"{exc.message_user} Retrying."
            row.save(update_fields=["message_user"])
            raise self.retry(countdown=pipeline.backoff(self.request.retries), exc=exc) from exc
        return _delete_failed(request, pvm, row, exc)
    except ProxmoxError as exc:
        return _delete_failed(request, pvm, row, exc)
    _finish_action(row, VMAction.State.DONE, "; ".join(done) or "Nothing was left in Proxmox.")
    transition(request, State.DELETED, system_actor=pipeline.SYSTEM_ACTOR, reason="; ".join(done))
    return State.DELETED


def _task_recorder(row: VMAction):
    def record(upid: str | None, node: str) -> None:
        row.upid, row.node = upid or "", node
        row.save(update_fields=["upid", "node"])

    return record


def _delete_failed(request: VMRequest, pvm: ProxmoxVM | None, row: VMAction, exc: ProxmoxError) -> str:
    _finish_action(row, VMAction.State.FAILED, exc.message_user, exc.message_admin)
    if pvm is not None:
        pvm.cleanup_pending = True
        pvm.cleanup_message = f"Deletion failed: {exc.message_admin}"
        pvm.save(update_fields=["cleanup_pending", "cleanup_message"])
    transition(
        request, State.FAILED, system_actor=pipeline.SYSTEM_ACTOR, reason=f"Deleting the VM failed: {exc.message_user}"
    )
    return State.FAILED


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="provisioning.tasks.cleanup_vm")
def cleanup_vm(self, vm_request_id: int, action_id: int | None = None) -> str:
    """Admin one-click cleanup of a failed request's leftovers."""
    request = VMRequest.objects.get(pk=vm_request_id)
    row = _action_row(request, "cleanup", action_id)
    row.state, row.started_at = VMAction.State.RUNNING, timezone.now()
    row.save(update_fields=["state", "started_at"])
    pvm = ProxmoxVM.objects.filter(request=request).select_related("endpoint").first()
    if request.state != State.FAILED or pvm is None:
        _finish_action(row, VMAction.State.FAILED, "Only failed requests are cleaned up this way.")
        return row.state
    try:
        done = pipeline.remove_vm(pvm, on_task=_task_recorder(row))
    except ProxmoxError as exc:
        pvm.cleanup_message = f"Cleanup failed: {exc.message_admin}"
        pvm.save(update_fields=["cleanup_message"])
        _finish_action(row, VMAction.State.FAILED, exc.message_user, exc.message_admin)
        return row.state
    _finish_action(row, VMAction.State.DONE, "; ".join(done) or "Nothing was left in Proxmox.")
    return row.state


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, name="provisioning.tasks.retry_vm")
def retry_vm(self, vm_request_id: int) -> None:
    """After an admin retry (request already moved back to provisioning): continue the chain."""
    request = VMRequest.objects.get(pk=vm_request_id)
    name = pipeline.next_pending(request)
    if request.state == State.PROVISIONING and name is not None:
        run_step.delay(vm_request_id, name)


# ------------------------------------------------------------------------------------------ periodic
@shared_task(name="provisioning.tasks.sync_status")
def sync_status() -> dict:
    return sync.sync_all_status()


@shared_task(name="provisioning.tasks.sync_templates")
def sync_templates() -> dict:
    return sync.sync_all_templates()


@shared_task(name="provisioning.tasks.resume_stalled")
def resume_stalled() -> int:
    """Re-dispatch requests whose chain went quiet (a message lost with its worker): steps are idempotent."""
    return sync.resume_stalled(run_step)
