"""Status checks for the status page and /status.json.

Every check is a function returning an `Outcome`; `run_checks` runs them in parallel threads with one deadline
(`STATUS_CHECK_TIMEOUT` seconds, default 8) and wraps each into a `CheckResult`. A check that does not answer in
time is `down` ("timed out after N s"); a check that raises is `down` with the error text (errors are shown, not
swallowed). Checks that only read the portal's own database run in the calling thread: worker threads would
open database connections of their own (and would not see a test's transaction).

Statuses: ok | degraded | down | unknown (unknown = not configured / nothing to check; it does not degrade the
overall state). Summaries never contain secrets or host names (they go to the unauthenticated /status.json);
`details` (nodes, storages, conditions) are shown to staff only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

OK, DEGRADED, DOWN, UNKNOWN = "ok", "degraded", "down", "unknown"
STATUSES = (OK, DEGRADED, DOWN, UNKNOWN)
RANK = {OK: 0, UNKNOWN: 1, DEGRADED: 2, DOWN: 3}
COLOURS = {OK: "green", DEGRADED: "amber", DOWN: "red", UNKNOWN: "grey"}

GROUPS: dict[str, str] = {
    "proxmox": "Proxmox VE",
    "cluster": "Management cluster",
    "portal": "Portal",
}
CACHE_PREFIX = "architecture:status:"
HEARTBEAT_NAME = "worker"

# CRDs the platform needs on the management cluster, by provider.
REQUIRED_CRDS: dict[str, tuple[str, ...]] = {
    "CAPI": (
        "clusters.cluster.x-k8s.io",
        "machines.cluster.x-k8s.io",
        "machinedeployments.cluster.x-k8s.io",
    ),
    "capmox": (
        "proxmoxclusters.infrastructure.cluster.x-k8s.io",
        "proxmoxmachines.infrastructure.cluster.x-k8s.io",
        "proxmoxmachinetemplates.infrastructure.cluster.x-k8s.io",
    ),
    "Kamaji": ("kamajicontrolplanes.controlplane.cluster.x-k8s.io",),
    "IPAM": (
        "inclusterippools.ipam.cluster.x-k8s.io",
        "ipaddressclaims.ipam.cluster.x-k8s.io",
        "ipaddresses.ipam.cluster.x-k8s.io",
    ),
}
CAPMOX_SELECTOR = "cluster.x-k8s.io/provider=infrastructure-proxmox"
CAPMOX_DEFAULT_NAME = "capmox-controller-manager"


def setting(name: str, default):
    return getattr(settings, name, default)


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class CheckResult:
    name: str
    group: str
    label: str
    status: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    duration_ms: int = 0

    @property
    def colour(self) -> str:
        return COLOURS.get(self.status, "grey")

    def to_dict(self, detailed: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not detailed:
            data.pop("details")
            data.pop("error")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(**{k: data.get(k, v) for k, v in _DEFAULTS.items()})


_DEFAULTS = {
    "name": "",
    "group": "",
    "label": "",
    "status": UNKNOWN,
    "summary": "",
    "details": {},
    "error": "",
    "duration_ms": 0,
}


@dataclass(frozen=True)
class Check:
    name: str
    group: str
    label: str
    func: Callable[[], Outcome]
    inline: bool = False  # reads the portal database: runs in the calling thread


def worst(statuses: Iterable[str]) -> str:
    statuses = list(statuses)
    return max(statuses, key=lambda s: RANK.get(s, 1)) if statuses else UNKNOWN


def overall(results: Iterable[CheckResult]) -> str:
    """ok | degraded | down for monitoring. Down: the database is down, or every Proxmox endpoint is down (nothing
    can be provisioned). Degraded: any other check down or degraded. Unknown checks (not configured) do not count."""
    results = list(results)
    by_name = {r.name: r for r in results}
    if by_name.get("portal:database") and by_name["portal:database"].status == DOWN:
        return DOWN
    proxmox = [r for r in results if r.group == "proxmox" and r.status != UNKNOWN]
    if proxmox and all(r.status == DOWN for r in proxmox):
        return DOWN
    if any(r.status in (DOWN, DEGRADED) for r in results):
        return DEGRADED
    return OK


def _describe_error(exc: BaseException) -> str:
    """A readable one-line error; ProxmoxErrors carry an admin message, ApiExceptions a status and reason."""
    admin = getattr(exc, "message_admin", "") or getattr(exc, "message_user", "")
    if admin:
        return str(admin)[:500]
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if status is not None and reason is not None:
        return f"HTTP {status} {reason}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _timed(check: Check) -> CheckResult:
    started = time.monotonic()
    try:
        outcome = check.func()
    except Exception as exc:  # a failing check is a result, never a crash of the page
        outcome = Outcome(DOWN, f"{check.label}: check failed", error=_describe_error(exc))
    return CheckResult(
        name=check.name,
        group=check.group,
        label=check.label,
        status=outcome.status,
        summary=outcome.summary,
        details=outcome.details,
        error=outcome.error,
        duration_ms=int((time.monotonic() - started) * 1000),
    )


def run_checks(checks: list[Check], timeout: float | None = None) -> list[CheckResult]:
    """Run the checks in parallel; each has until `timeout` seconds after the start (they all start at once)."""
    timeout = float(timeout if timeout is not None else setting("STATUS_CHECK_TIMEOUT", 8))
    threaded = [c for c in checks if not c.inline]
    results: dict[str, CheckResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(16, len(threaded))), thread_name_prefix="status-check")
    try:
        started = time.monotonic()
        futures = [(c, pool.submit(_timed, c)) for c in threaded]
        for check in checks:
            if check.inline:
                results[check.name] = _timed(check)
        for check, future in futures:
            try:
                results[check.name] = future.result(timeout=max(0.0, started + timeout - time.monotonic()))
            except FutureTimeout:
                results[check.name] = CheckResult(
                    check.name,
                    check.group,
                    check.label,
                    DOWN,
                    f"{check.label}: timed out after {timeout:g} s",
                    error=f"no answer within {timeout:g} s",
                    duration_ms=int(timeout * 1000),
                )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a hung check keeps its thread until its own I/O timeout
    return [results[c.name] for c in checks]


# --------------------------------------------------------------------------------------------------
# Proxmox
# --------------------------------------------------------------------------------------------------


def _proxmox_client(endpoint, timeout: float):
    from provisioning.proxmox.client import ProxmoxClient

    return ProxmoxClient(
        endpoint.api_url,
        endpoint.token_id,
        endpoint.token_secret(),
        verify=endpoint.verify,
        timeout=timeout,
        name=endpoint.name,
    )


def _pct(used, total) -> float | None:
    try:
        return round(100.0 * float(used) / float(total), 1) if total else None
    except (TypeError, ValueError):
        return None


def check_proxmox_endpoint(endpoint, timeout: float = 5) -> Outcome:
    """Quorum, nodes, storages and templates of one endpoint. Each part's error is kept and shown."""
    client = _proxmox_client(endpoint, timeout)
    details: dict[str, Any] = {"endpoint": endpoint.name, "errors": []}
    problems: list[str] = []

    def call(label: str, path: str, **params):
        try:
            return client.get(path, **params)
        except Exception as exc:
            details["errors"].append(f"{label}: {_describe_error(exc)}")
            return None

    nodes = call("nodes", "nodes")
    if nodes is None:  # the API itself does not answer: nothing else will
        return Outcome(DOWN, f"Proxmox endpoint {endpoint.name} does not answer", details, error=details["errors"][0])
    cluster_status = call("cluster status", "cluster/status") or []
    storages = call("storage", "cluster/resources", type="storage")
    guests = call("templates", "cluster/resources", type="vm")

    cluster = next((item for item in cluster_status if item.get("type") == "cluster"), None)
    if cluster is None:
        details["quorum"] = None if cluster_status is None else "standalone"
    else:
        details["quorum"] = bool(cluster.get("quorate"))
        if not details["quorum"]:
            problems.append("no quorum")

    details["nodes"] = [
        {
            "name": n.get("node", ""),
            "status": n.get("status", "unknown"),
            "cpu_pct": _pct(n.get("cpu"), 1) if n.get("status") == "online" else None,
            "maxcpu": n.get("maxcpu"),
            "mem_pct": _pct(n.get("mem"), n.get("maxmem")),
            "maxmem": n.get("maxmem"),
            "uptime": n.get("uptime"),
        }
        for n in sorted(nodes, key=lambda n: n.get("node", ""))
    ]
    offline = [n["name"] for n in details["nodes"] if n["status"] != "online"]
    online = len(details["nodes"]) - len(offline)
    if offline:
        problems.append(f"{len(offline)} of {len(details['nodes'])} nodes offline")

    details["storages"] = _storage_rows(storages or [])
    full = [s for s in details["storages"] if (s["used_pct"] or 0) >= setting("STATUS_STORAGE_WARN_PERCENT", 90)]
    if full:
        problems.append(f"{len(full)} storages almost full")
    unavailable = [s for s in details["storages"] if s["status"] not in ("available", "")]
    if unavailable:
        problems.append(f"{len(unavailable)} storages unavailable")

    templates = sorted(
        (g.get("name") or str(g.get("vmid")) for g in (guests or []) if g.get("template") in (1, "1", True)),
    )
    details["templates"] = templates
    if guests is not None and not templates:
        problems.append("no templates")
    if details["errors"]:
        problems.append(f"{len(details['errors'])} API calls failed")

    summary = (
        f"{online}/{len(details['nodes'])} nodes online, {len(details['storages'])} storages, "
        f"{len(templates)} templates"
    )
    if details.get("quorum") is True:
        summary = "quorate, " + summary
    if problems:
        summary += " — " + "; ".join(problems)
    status = DOWN if online == 0 else DEGRADED if problems else OK
    return Outcome(status, summary, details, error="; ".join(details["errors"]))


def _storage_rows(items: list[dict]) -> list[dict]:
    """One row per storage; a shared storage (listed once per node) counts once."""
    rows: dict[str, dict] = {}
    for item in sorted(items, key=lambda i: (i.get("storage", ""), i.get("node", ""))):
        shared = bool(int(item.get("shared") or 0))
        key = item.get("storage", "") if shared else f"{item.get('node', '')}/{item.get('storage', '')}"
        if key in rows:
            continue
        rows[key] = {
            "name": key,
            "type": item.get("plugintype", ""),
            "shared": shared,
            "status": item.get("status", ""),
            "used": item.get("disk"),
            "total": item.get("maxdisk"),
            "used_pct": _pct(item.get("disk"), item.get("maxdisk")),
        }
    return list(rows.values())


def proxmox_checks() -> list[Check]:
    from portal.models import ProxmoxEndpoint

    timeout = float(setting("STATUS_CHECK_TIMEOUT", 8))
    endpoints = list(ProxmoxEndpoint.objects.filter(enabled=True))
    if not endpoints:
        return [
            Check(
                "proxmox:none",
                "proxmox",
                "Proxmox endpoints",
                lambda: Outcome(UNKNOWN, "No Proxmox endpoint is configured."),
                inline=True,
            )
        ]
    return [
        Check(
            f"proxmox:{ep.name}",
            "proxmox",
            f"Proxmox endpoint {ep.name}",
            lambda ep=ep: check_proxmox_endpoint(ep, timeout=max(1.0, timeout - 1)),
        )
        for ep in endpoints
    ]


# --------------------------------------------------------------------------------------------------
# Management cluster (Kubernetes)
# --------------------------------------------------------------------------------------------------


class NotConfigured(Exception):
    pass


def kube_client():
    """ApiClient from CAPI_KUBECONFIG, or the in-cluster service account. Never ~/.kube/config: the status page
    must not silently talk to whatever cluster the server's user happens to have configured."""
    path = setting("CAPI_KUBECONFIG", "")
    if not path and not os.environ.get("KUBERNETES_SERVICE_HOST"):
        raise NotConfigured("No management cluster is configured (CAPI_KUBECONFIG is empty).")
    from provisioning.capi.apply import api_client_from_config

    return api_client_from_config(path)


def kube_get(api_client, path: str, query: list[tuple[str, str]] | None = None, timeout: float = 5) -> dict | None:
    """GET as parsed JSON; None for 404 (a kind that is not served)."""
    from kubernetes.client.rest import ApiException

    try:
        response = api_client.call_api(
            path,
            "GET",
            query_params=query or [],
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return json.loads(response.data or b"{}")


def _kube_check(func: Callable[[Any, float], Outcome]) -> Callable[[], Outcome]:
    timeout = max(1.0, float(setting("STATUS_CHECK_TIMEOUT", 8)) - 1)

    def run() -> Outcome:
        try:
            api_client = kube_client()
        except NotConfigured as exc:
            return Outcome(UNKNOWN, str(exc))
        try:
            return func(api_client, timeout)
        finally:
            api_client.close()

    return run


def _conditions(obj: dict) -> list[dict]:
    status = obj.get("status") or {}
    conditions = status.get("conditions")
    if isinstance(conditions, list):
        return conditions
    v1beta2 = (status.get("v1beta2") or {}).get("conditions")  # CAPI v1beta1 objects keep new conditions here
    return v1beta2 if isinstance(v1beta2, list) else []


def _condition(obj: dict, kind: str) -> dict | None:
    return next((c for c in _conditions(obj) if c.get("type") == kind), None)


def check_crds(api_client, timeout: float) -> Outcome:
    listing = kube_get(api_client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", timeout=timeout) or {}
    served: dict[str, list[str]] = {}
    for crd in listing.get("items") or []:
        name = (crd.get("metadata") or {}).get("name", "")
        served[name] = [v.get("name", "") for v in (crd.get("spec") or {}).get("versions") or [] if v.get("served")]
    providers, missing = [], []
    for provider, names in REQUIRED_CRDS.items():
        rows = [{"name": n, "present": n in served, "versions": served.get(n, [])} for n in names]
        absent = [r["name"] for r in rows if not r["present"]]
        missing += absent
        providers.append({"provider": provider, "ok": not absent, "crds": rows})
    details = {"providers": providers, "missing": missing}
    if missing:
        lacking = [p["provider"] for p in providers if not p["ok"]]
        return Outcome(DOWN, f"CRDs missing for {', '.join(lacking)} ({len(missing)} CRDs)", details)
    return Outcome(
        OK, f"all {sum(len(v) for v in REQUIRED_CRDS.values())} CRDs of CAPI, capmox, Kamaji and IPAM present", details
    )


def check_capmox_controller(api_client, timeout: float) -> Outcome:
    listing = kube_get(api_client, "/apis/apps/v1/deployments", [("labelSelector", CAPMOX_SELECTOR)], timeout) or {}
    items = listing.get("items") or []
    if not items:
        everything = kube_get(api_client, "/apis/apps/v1/deployments", timeout=timeout) or {}
        items = [d for d in everything.get("items") or [] if d["metadata"].get("name") == CAPMOX_DEFAULT_NAME]
    if not items:
        return Outcome(
            DOWN,
            "capmox controller deployment not found",
            {"looked_for": f"label {CAPMOX_SELECTOR} or name {CAPMOX_DEFAULT_NAME}"},
        )
    rows = []
    for dep in items:
        spec, status = dep.get("spec") or {}, dep.get("status") or {}
        desired = int(spec.get("replicas", 1) or 0)
        ready = int(status.get("readyReplicas") or 0)
        available = _condition(dep, "Available")
        rows.append(
            {
                "name": f"{dep['metadata'].get('namespace', '')}/{dep['metadata'].get('name', '')}",
                "desired": desired,
                "ready": ready,
                "available": (available or {}).get("status", ""),
                "ok": desired > 0 and ready >= desired,
            }
        )
    not_ready = [r for r in rows if not r["ok"]]
    if not_ready:
        r = not_ready[0]
        summary = f"capmox controller not ready ({r['ready']}/{r['desired']} replicas)"
        return Outcome(DOWN, summary, {"deployments": rows})
    return Outcome(
        OK, f"capmox controller ready ({rows[0]['ready']}/{rows[0]['desired']} replicas)", {"deployments": rows}
    )


def proxmox_cluster_rows(api_client, timeout: float) -> list[dict] | None:
    """Every ProxmoxCluster with its ProxmoxAvailable condition; None when the kind is not served."""
    from provisioning.capi import kinds

    kind = kinds.PROXMOX_CLUSTER
    listing = kube_get(api_client, f"/apis/{kind.group}/{kind.version}/{kind.plural}", timeout=timeout)
    if listing is None:
        return None
    rows = []
    for obj in listing.get("items") or []:
        condition = _condition(obj, "ProxmoxAvailable") or {}
        rows.append(
            {
                "name": f"{obj['metadata'].get('namespace', '')}/{obj['metadata'].get('name', '')}",
                "available": condition.get("status", "Unknown"),
                "reason": condition.get("reason", "") or ("no ProxmoxAvailable condition yet" if not condition else ""),
                "message": condition.get("message", ""),
            }
        )
    return sorted(rows, key=lambda r: r["name"])


def check_proxmox_clusters(api_client, timeout: float) -> Outcome:
    rows = proxmox_cluster_rows(api_client, timeout)
    if rows is None:
        return Outcome(DOWN, "ProxmoxCluster kind is not served (capmox CRDs missing)")
    if not rows:
        return Outcome(OK, "no ProxmoxClusters yet", {"clusters": []})
    bad = [r for r in rows if r["available"] != "True"]
    details = {"clusters": rows}
    if bad:
        reasons = sorted({r["reason"] or "unknown reason" for r in bad})
        return Outcome(
            DEGRADED, f"{len(bad)} of {len(rows)} ProxmoxClusters not available ({', '.join(reasons)})", details
        )
    return Outcome(OK, f"{len(rows)} ProxmoxClusters available", details)


def check_helmreleases(api_client, timeout: float) -> Outcome:
    from architecture.bundle import curated_bundle

    listing = kube_get(api_client, "/apis/helm.toolkit.fluxcd.io/v2/helmreleases", timeout=timeout)
    if listing is None:
        return Outcome(UNKNOWN, "Flux HelmRelease kind is not served: Flux is not installed on this cluster")
    found = {(i["metadata"].get("namespace", ""), i["metadata"].get("name", "")): i for i in listing.get("items") or []}
    rows = []
    for component in curated_bundle():
        release = found.get((component.namespace, component.release_name or component.name))
        if release is None:
            rows.append(
                {
                    "component": component.name,
                    "release": f"{component.namespace}/{component.release_name}",
                    "state": "missing",
                    "ready": "",
                    "released": "",
                    "message": "",
                    "optional": component.optional,
                }
            )
            continue
        ready, released = _condition(release, "Ready") or {}, _condition(release, "Released") or {}
        state = OK if ready.get("status") == "True" else (DOWN if ready.get("status") == "False" else UNKNOWN)
        rows.append(
            {
                "component": component.name,
                "release": f"{component.namespace}/{component.release_name}",
                "state": state,
                "ready": ready.get("status", ""),
                "released": released.get("status", ""),
                "message": (ready.get("message") or released.get("message") or "")[:300],
                "optional": component.optional,
            }
        )
    present = [r for r in rows if r["state"] != "missing"]
    if not present:
        return Outcome(UNKNOWN, f"none of the {len(rows)} bundle HelmReleases found", {"releases": rows})
    failing = [r for r in present if r["state"] != OK]
    missing = [r for r in rows if r["state"] == "missing" and not r["optional"]]
    summary = f"{len(present) - len(failing)}/{len(rows)} bundle HelmReleases ready"
    if missing:
        summary += f", {len(missing)} missing"
    status = DEGRADED if (failing or missing) else OK
    return Outcome(status, summary, {"releases": rows})


def cluster_checks() -> list[Check]:
    return [
        Check("cluster:crds", "cluster", "Cluster API CRDs", _kube_check(check_crds)),
        Check("cluster:capmox", "cluster", "capmox controller", _kube_check(check_capmox_controller)),
        Check("cluster:proxmoxclusters", "cluster", "ProxmoxClusters", _kube_check(check_proxmox_clusters)),
        Check("cluster:helmreleases", "cluster", "Flux HelmReleases", _kube_check(check_helmreleases)),
    ]


# --------------------------------------------------------------------------------------------------
# The portal itself
# --------------------------------------------------------------------------------------------------


def check_database() -> Outcome:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Outcome(OK, f"{connection.vendor} answers")


def check_broker(timeout: float = 3, url: str | None = None) -> Outcome:
    """Open a connection to the broker the portal sends tasks to (or to `url`)."""
    from portal.celery import app

    url = url or str(app.conf.broker_url or "")
    transport = url.split("://", 1)[0] or "amqp"
    with app.connection_for_write(url) as conn:
        conn.ensure_connection(max_retries=1, timeout=timeout)
    return Outcome(OK, f"{transport} broker reachable", {"transport": transport})


def check_worker() -> Outcome:
    from .models import Heartbeat

    beat = Heartbeat.objects.filter(name=HEARTBEAT_NAME).first()
    interval = float(setting("STATUS_HEARTBEAT_SECONDS", 30))
    if beat is None:
        return Outcome(DOWN, "no worker heartbeat recorded yet (is a Celery worker with beat running?)")
    age = (timezone.now() - beat.last_seen).total_seconds()
    details = {"last_seen": beat.last_seen.isoformat(), "age_s": int(age), "hostname": beat.hostname}
    if age > 4 * interval:
        return Outcome(DOWN, f"last worker heartbeat {_ago(age)} ago", details)
    if age > 2 * interval:
        return Outcome(DEGRADED, f"last worker heartbeat {_ago(age)} ago", details)
    return Outcome(OK, f"worker heartbeat {_ago(age)} ago", details)


def check_status_sync() -> Outcome:
    from django.db.models import Max

    from portal.models import ClusterRequest
    from provisioning.models import ProxmoxVM

    vm_sync = ProxmoxVM.objects.aggregate(last=Max("last_synced_at"))["last"]
    cluster_sync = ClusterRequest.objects.aggregate(last=Max("last_synced_at"))["last"]
    details = {
        "vms": vm_sync.isoformat() if vm_sync else None,
        "clusters": cluster_sync.isoformat() if cluster_sync else None,
    }
    latest = max((t for t in (vm_sync, cluster_sync) if t), default=None)
    if latest is None:
        return Outcome(UNKNOWN, "no status sync recorded yet (no provisioned VMs or clusters)", details)
    age = (timezone.now() - latest).total_seconds()
    summary = f"last status sync {_ago(age)} ago"
    return Outcome(DEGRADED if age > float(setting("STATUS_SYNC_MAX_AGE", 600)) else OK, summary, details)


def check_pending_approvals() -> Outcome:
    from portal.models import REQUEST_MODELS
    from portal.states import State

    hours = float(setting("STATUS_PENDING_WARN_HOURS", 24))
    stale_after = timedelta(hours=hours)
    counts, stale = {}, 0
    for key, model in REQUEST_MODELS.items():
        pending = model.objects.filter(state=State.PENDING_APPROVAL)
        counts[key] = pending.count()
        stale += pending.filter(created_at__lt=timezone.now() - stale_after).count()
    total = sum(counts.values())
    summary = f"{total} requests waiting for approval" + (f", {stale} older than {hours:g} h" if stale else "")
    return Outcome(DEGRADED if stale else OK, summary, {"by_kind": counts, "stale": stale})


def check_failed_requests() -> Outcome:
    from portal.models import REQUEST_MODELS
    from portal.states import State

    since = timezone.now() - timedelta(hours=24)
    counts = {key: model.objects.filter(state=State.FAILED).count() for key, model in REQUEST_MODELS.items()}
    recent = sum(
        m.objects.filter(state=State.FAILED, state_changed_at__gte=since).count() for m in REQUEST_MODELS.values()
    )
    total = sum(counts.values())
    summary = f"{total} failed requests ({recent} in the last 24 h)"
    return Outcome(DEGRADED if recent else OK, summary, {"by_kind": counts, "last_24h": recent})


def portal_checks() -> list[Check]:
    return [
        Check("portal:database", "portal", "Database", check_database, inline=True),
        Check("portal:broker", "portal", "Message broker", check_broker),
        Check("portal:worker", "portal", "Worker heartbeat", check_worker, inline=True),
        Check("portal:status-sync", "portal", "Status sync", check_status_sync, inline=True),
        Check("portal:approvals", "portal", "Pending approvals", check_pending_approvals, inline=True),
        Check("portal:failed", "portal", "Failed requests", check_failed_requests, inline=True),
    ]


def _ago(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


# --------------------------------------------------------------------------------------------------
# Groups, caching, the monitoring document
# --------------------------------------------------------------------------------------------------

BUILDERS: dict[str, Callable[[], list[Check]]] = {
    "proxmox": proxmox_checks,
    "cluster": cluster_checks,
    "portal": portal_checks,
}


def _cached(group: str) -> list[CheckResult] | None:
    cached = cache.get(CACHE_PREFIX + group)
    return None if cached is None else [CheckResult.from_dict(d) for d in cached]


def _store(group: str, results: list[CheckResult]) -> None:
    cache.set(CACHE_PREFIX + group, [r.to_dict() for r in results], int(setting("STATUS_CACHE_SECONDS", 15)))


def run_group(group: str, *, use_cache: bool = True) -> list[CheckResult]:
    """Results of one group, from the cache when fresh (STATUS_CACHE_SECONDS, default 15)."""
    if group not in BUILDERS:
        raise KeyError(group)
    if use_cache and (cached := _cached(group)) is not None:
        return cached
    results = run_checks(BUILDERS[group]())
    _store(group, results)
    return results


def run_all(*, use_cache: bool = True) -> dict[str, list[CheckResult]]:
    """All groups; the checks of every group that is not cached run together, in parallel, with one deadline."""
    results: dict[str, list[CheckResult]] = {}
    stale: dict[str, list[Check]] = {}
    for group in GROUPS:
        cached = _cached(group) if use_cache else None
        if cached is not None:
            results[group] = cached
        else:
            stale[group] = BUILDERS[group]()
    fresh = run_checks([check for group_checks in stale.values() for check in group_checks])
    for group in stale:
        results[group] = [r for r in fresh if r.group == group]
        _store(group, results[group])
    return {group: results[group] for group in GROUPS}


def group_summary(group: str, results: list[CheckResult]) -> dict[str, Any]:
    return {
        "group": group,
        "label": GROUPS[group],
        "status": worst(r.status for r in results),
        "counts": {s: sum(1 for r in results if r.status == s) for s in STATUSES},
    }


def status_document(results: dict[str, list[CheckResult]], *, detailed: bool) -> dict[str, Any]:
    """The /status.json body: overall state, per group state, per check status and summary (+ details for staff)."""
    flat = [r for rs in results.values() for r in rs]
    return {
        "status": overall(flat),
        "checked_at": timezone.now().isoformat(),
        "groups": {
            group: {**group_summary(group, rs), "checks": [r.to_dict(detailed=detailed) for r in rs]}
            for group, rs in results.items()
        },
    }


def cached_component_states() -> dict[str, str]:
    """Component -> ok/degraded/down/unknown from the last HelmRelease check, if one is cached (no new calls)."""
    cached = cache.get(CACHE_PREFIX + "cluster") or []
    for data in cached:
        if data.get("name") == "cluster:helmreleases" and data.get("status") != UNKNOWN:
            releases = (data.get("details") or {}).get("releases") or []
            return {r["component"]: (DOWN if r["state"] == "missing" else r["state"]) for r in releases}
    return {}


def record_heartbeat(hostname: str = "") -> None:
    from .models import Heartbeat

    Heartbeat.objects.update_or_create(
        name=HEARTBEAT_NAME, defaults={"last_seen": timezone.now(), "hostname": hostname[:255]}
    )
