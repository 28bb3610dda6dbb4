"""Bodies of the cluster Celery tasks (the thin @shared_task wrappers live in provisioning/tasks.py).

State changes go through portal.lifecycle.transition. What the portal keeps about a cluster lives in
ClusterRequest.status_detail: {"vmid_range": [start, end], "applied": {...}, "status": ClusterStatus.to_dict()}.
Kubeconfigs are never written anywhere: they are read on demand by kubeconfig.fetch_kubeconfig.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from kubernetes.client.rest import ApiException
from kubernetes.config import ConfigException
from urllib3.exceptions import HTTPError as Urllib3Error

from portal import audit
from portal.lifecycle import transition
from portal.models import ClusterRequest
from portal.states import State

from . import apply, status
from .from_request import build_spec, credentials_for, endpoint_for
from .schema_checks import SchemaViolation
from .spec import SpecError

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "capi"
SYNCED_STATES = (State.PROVISIONING, State.READY, State.DELETING)


class RetryableClusterError(Exception):
    """The management cluster could not be reached or answered 5xx/409/429: try again later."""


def management_client():
    try:
        return apply.api_client_from_config(getattr(settings, "CAPI_KUBECONFIG", ""))
    except (ConfigException, OSError) as exc:  # an operator problem: retry, then fail with this reason
        raise RetryableClusterError(f"management cluster kubeconfig unusable: {type(exc).__name__}") from exc


@contextmanager
def _client(api_client=None):
    """The given client, or a fresh one for the management cluster that is closed afterwards."""
    if api_client is not None:
        yield api_client
        return
    client = management_client()
    try:
        yield client
    finally:
        client.close()


def manifests_for(request: ClusterRequest) -> str:
    """The rendered YAML a tenant may download (no Secrets; does not allocate a vmIDRange)."""
    from .render import render_manifests_yaml

    return render_manifests_yaml(build_spec(request, persist_allocation=False))


def kubeconfig_for(request: ClusterRequest, *, api_client=None) -> bytes | None:
    """Read the tenant cluster's kubeconfig on demand (the caller checks the role and audits the download)."""
    from .kubeconfig import fetch_kubeconfig

    with _client(api_client) as client:
        return fetch_kubeconfig(client, request.tenant.namespace, request.name)


def status_for(request: ClusterRequest) -> status.ClusterStatus | None:
    """The last synced status (pipeline etc.) for the cluster page, or None before the first sync."""
    data = (request.status_detail or {}).get("status")
    return status.ClusterStatus.from_dict(data) if data else None


def _is_permanent(exc: ApiException) -> bool:
    return exc.status is not None and 400 <= exc.status < 500 and exc.status not in (408, 409, 429)


def _api_message(exc: ApiException) -> str:
    return f"management cluster answered {exc.status} {exc.reason}"


def _load(cluster_request_id: int) -> ClusterRequest:
    return ClusterRequest.objects.select_related("tenant", "tenant__endpoint", "network", "kubernetes_version").get(
        pk=cluster_request_id
    )


def fail_cluster(cluster_request_id: int, reason: str) -> None:
    """Mark the request failed (also used by the task wrapper once retries are exhausted)."""
    request = _load(cluster_request_id)
    if request.state in (State.APPROVED, State.PROVISIONING, State.READY, State.DELETING):
        transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=reason)


def _apply(request: ClusterRequest, api_client) -> dict:
    spec = build_spec(request, persist_allocation=True)
    credentials = credentials_for(endpoint_for(request))
    applied = apply.apply_cluster(spec, api_client, credentials)
    summary = {
        "at": timezone.now().isoformat(),
        "objects": [[a.kind, a.name] for a in applied],
        "kubernetes_version": spec.kubernetes_version,
    }
    _update_detail(request.pk, applied=summary)
    audit.record("cluster.applied", request, system_actor=SYSTEM_ACTOR, after=summary)
    return summary


def provision_cluster(cluster_request_id: int, *, api_client=None) -> str:
    """approved -> provisioning, render and apply. Ready comes later from sync_clusters."""
    request = _load(cluster_request_id)
    if request.state == State.APPROVED:
        request = transition(request, State.PROVISIONING, system_actor=SYSTEM_ACTOR, reason="")
    elif request.state != State.PROVISIONING:
        return f"skipped: request is {request.state}"
    return _apply_or_fail(request, api_client)


def apply_cluster_changes(cluster_request_id: int, *, api_client=None) -> str:
    """After an approved scale or version change (NodeGroup / ClusterRequest already updated by the portal):
    ready -> provisioning, re-render and apply (a changed template name makes CAPI roll the workers)."""
    request = _load(cluster_request_id)
    if request.state in (State.READY, State.FAILED):
        request = transition(request, State.PROVISIONING, system_actor=SYSTEM_ACTOR, action="reconfigure")
    elif request.state != State.PROVISIONING:
        return f"skipped: request is {request.state}"
    return _apply_or_fail(request, api_client)


def _apply_or_fail(request: ClusterRequest, api_client) -> str:
    try:
        with _client(api_client) as client:
            summary = _apply(request, client)
    except (SpecError, SchemaViolation, ValidationError, OSError) as exc:
        if isinstance(exc, ValidationError):
            reason = "; ".join(exc.messages)
        elif isinstance(exc, OSError):  # e.g. the endpoint's CA bundle cannot be read
            reason = f"cannot read {getattr(exc, 'filename', '') or 'a file'}: {exc.strerror or exc}"
        else:
            reason = str(exc)
        transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=f"Cannot build the cluster: {reason}")
        return "failed"
    except ApiException as exc:
        if _is_permanent(exc):
            transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=_api_message(exc))
            return "failed"
        raise RetryableClusterError(_api_message(exc)) from exc
    except Urllib3Error as exc:
        raise RetryableClusterError(f"management cluster unreachable: {type(exc).__name__}") from exc
    return f"applied {len(summary['objects'])} objects"


def delete_cluster(cluster_request_id: int, *, api_client=None) -> str:
    """The portal moved the request to `deleting`: delete the Cluster object; CAPI removes machines and VMs.

    The request becomes `deleted` (releasing its quota) in sync_clusters once nothing is left.
    """
    request = _load(cluster_request_id)
    if request.state != State.DELETING:
        return f"skipped: request is {request.state}"
    try:
        with _client(api_client) as client:
            requested = apply.delete_cluster(client, request.tenant.namespace, request.name)
    except ApiException as exc:
        if _is_permanent(exc):
            transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=_api_message(exc))
            return "failed"
        raise RetryableClusterError(_api_message(exc)) from exc
    except Urllib3Error as exc:
        raise RetryableClusterError(f"management cluster unreachable: {type(exc).__name__}") from exc
    audit.record("cluster.delete-requested", request, system_actor=SYSTEM_ACTOR, after={"cluster_object": requested})
    return "deletion requested" if requested else "already gone"


def _update_detail(pk: int, *, last_synced_at=None, **entries) -> None:
    """Set (or, with None, drop) status_detail keys under a row lock: apply and sync never lose each other's."""
    with transaction.atomic():
        row = ClusterRequest.objects.select_for_update().only("status_detail").get(pk=pk)
        detail = dict(row.status_detail or {})
        for key, value in entries.items():
            if value is None:
                detail.pop(key, None)
            else:
                detail[key] = value
        fields = {"status_detail": detail}
        if last_synced_at is not None:
            fields["last_synced_at"] = last_synced_at
        ClusterRequest.objects.filter(pk=pk).update(**fields)


def _store_status(pk: int, found: status.ClusterStatus | None, now) -> None:
    _update_detail(pk, last_synced_at=now, status=found.to_dict() if found is not None else None)


def sync_clusters(*, api_client=None) -> dict[str, int]:
    """Periodic: one label-selected list per kind for all clusters, then update every live request."""
    with _client(api_client) as client:
        try:
            statuses = status.read_status(client)
        except (ApiException, Urllib3Error) as exc:  # keep the last known status; the next run tries again
            log.warning("cluster status sync skipped: %s", exc.status if isinstance(exc, ApiException) else exc)
            return {"synced": 0, "ready": 0, "deleted": 0, "errors": 1}
        counts = {"synced": 0, "ready": 0, "deleted": 0, "errors": 0}
        now = timezone.now()
        for request in ClusterRequest.objects.filter(state__in=SYNCED_STATES).select_related("tenant"):
            try:
                outcome = _sync_one(client, request, statuses.get((request.tenant.namespace, request.name)), now)
            except (ApiException, Urllib3Error):
                log.warning("sync of cluster request %s failed", request.pk, exc_info=True)
                outcome = "errors"
            counts["synced"] += outcome != "errors"
            if outcome in counts and outcome != "synced":
                counts[outcome] += 1
        return counts


def _sync_one(client, request: ClusterRequest, found: status.ClusterStatus | None, now) -> str:
    if found is not None or request.state == State.DELETING:
        _store_status(request.pk, found, now)
    else:  # provisioning/ready but not (yet) in the management cluster: keep the last status
        ClusterRequest.objects.filter(pk=request.pk).update(last_synced_at=now)
    overall = found.overall if found is not None else "absent"
    if request.state == State.DELETING and found is not None and found.exists and not found.deleting:
        apply.delete_cluster(client, request.tenant.namespace, request.name)  # the delete task was lost
    if request.state == State.PROVISIONING and overall == "ready":
        # Once per rollout (not every sync): templates the finished rollout no longer needs.
        pruned = apply.prune_templates(client, request.tenant.namespace, request.name)
        if pruned:
            audit.record("cluster.templates-pruned", request, system_actor=SYSTEM_ACTOR, after={"templates": pruned})
        transition(request, State.READY, system_actor=SYSTEM_ACTOR)
        return "ready"
    if request.state == State.DELETING and overall == "absent":
        apply.cleanup_leftovers(client, request.tenant.namespace, request.name)
        transition(request, State.DELETED, system_actor=SYSTEM_ACTOR)
        return "deleted"
    return "synced"
