"""Reading Proxmox back into the portal: VM power state (one `/cluster/resources` call per endpoint per cycle)
and the template catalog."""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from django.db.models import Max
from django.utils import timezone

from portal.models import OSTemplate, ProxmoxEndpoint, VMRequest
from portal.states import State

from .models import ProxmoxVM, UnmanagedVM, VmidReservation
from .proxmox import operations as ops
from .proxmox.client import ProxmoxClient
from .proxmox.endpoints import client_for
from .proxmox.errors import ProxmoxError

log = logging.getLogger(__name__)

# Requests whose VM should exist: missing ones are flagged as drifted.
EXPECTED_STATES = (State.READY,)
# Requests whose VM row is updated when Proxmox reports it.
TRACKED_STATES = (State.READY, State.PROVISIONING, State.FAILED, State.DELETING)
SYNC_FIELDS = [
    "node",
    "power_state",
    "lock",
    "cpu_fraction",
    "mem_bytes",
    "maxmem_bytes",
    "uptime_seconds",
    "drifted",
    "drifted_since",
    "last_synced_at",
]


def _apply(pvm: ProxmoxVM, item: dict, now) -> None:
    pvm.node = item.get("node", pvm.node)
    pvm.power_state = item.get("status", "") or ""
    pvm.lock = item.get("lock", "") or ""
    pvm.cpu_fraction = float(item.get("cpu") or 0)
    pvm.mem_bytes = int(item.get("mem") or 0)
    pvm.maxmem_bytes = int(item.get("maxmem") or 0)
    pvm.uptime_seconds = int(item.get("uptime") or 0)
    pvm.drifted = False
    pvm.drifted_since = None
    pvm.last_synced_at = now


def sync_endpoint_status(endpoint: ProxmoxEndpoint, client: ProxmoxClient | None = None) -> dict:
    """One GET /cluster/resources?type=vm, then bulk updates. Returns counts."""
    client = client or client_for(endpoint)
    items = ops.cluster_vms(client)
    now = timezone.now()
    by_vmid = {int(item["vmid"]): item for item in items}
    rows = list(
        ProxmoxVM.objects.filter(
            endpoint=endpoint, vmid__isnull=False, request__state__in=TRACKED_STATES
        ).select_related("request")
    )
    updated, drifted = [], 0
    for pvm in rows:
        item = by_vmid.get(pvm.vmid)
        if item is not None:
            _apply(pvm, item, now)
            updated.append(pvm)
        elif pvm.request.state in EXPECTED_STATES:
            if not pvm.drifted:
                pvm.drifted, pvm.drifted_since = True, now
            pvm.power_state = "missing"
            pvm.last_synced_at = now
            updated.append(pvm)
            drifted += 1
    ProxmoxVM.objects.bulk_update(updated, SYNC_FIELDS, batch_size=500)
    unmanaged = _record_unmanaged(endpoint, items, now)
    VmidReservation.objects.filter(endpoint=endpoint, external=True).exclude(vmid__in=list(by_vmid)).delete()
    return {
        "endpoint": endpoint.name,
        "seen": len(items),
        "updated": len(updated),
        "drifted": drifted,
        "unmanaged": unmanaged,
    }


def _record_unmanaged(endpoint: ProxmoxEndpoint, items: list[dict], now) -> int:
    """Non-template VMs that no request owns (by VMID or reservation) are listed for admins."""
    known = set(ProxmoxVM.objects.filter(endpoint=endpoint, vmid__isnull=False).values_list("vmid", flat=True))
    known |= set(VmidReservation.objects.filter(endpoint=endpoint, external=False).values_list("vmid", flat=True))
    foreign = {int(i["vmid"]): i for i in items if not i.get("template") and int(i["vmid"]) not in known}
    existing = {u.vmid: u for u in UnmanagedVM.objects.filter(endpoint=endpoint)}
    UnmanagedVM.objects.filter(endpoint=endpoint).exclude(vmid__in=list(foreign)).delete()
    create, update = [], []
    for vmid, item in foreign.items():
        row = existing.get(vmid) or UnmanagedVM(endpoint=endpoint, vmid=vmid, first_seen_at=now)
        row.name = str(item.get("name", ""))[:128]
        row.node = item.get("node", "")
        row.power_state = item.get("status", "")
        row.tags = str(item.get("tags", ""))[:255]
        row.last_seen_at = now
        (update if row.pk else create).append(row)
    UnmanagedVM.objects.bulk_create(create, batch_size=500)
    UnmanagedVM.objects.bulk_update(update, ["name", "node", "power_state", "tags", "last_seen_at"], batch_size=500)
    return len(foreign)


def sync_all_status() -> dict:
    results = {}
    for endpoint in ProxmoxEndpoint.objects.filter(enabled=True):
        try:
            results[endpoint.name] = sync_endpoint_status(endpoint)
        except ProxmoxError as exc:  # one unreachable endpoint must not stop the others
            log.warning("status sync of %s failed: %s", endpoint.name, exc.message_admin)
            results[endpoint.name] = {"error": exc.message_user}
    return results


def refresh_one(pvm: ProxmoxVM, client: ProxmoxClient) -> None:
    """After an action: read this one VM's state (status/current) so the page shows it at once."""
    try:
        item = ops.find_vm(client, pvm.vmid) if pvm.vmid else None
        if item is None:
            return
        _apply(pvm, item, timezone.now())
        if pvm.power_state == "running":
            addresses = ops.guest_addresses(client, pvm.node, pvm.vmid)
            if addresses is not None:
                pvm.ip_addresses = addresses
        pvm.save(update_fields=SYNC_FIELDS + ["ip_addresses"])
    except ProxmoxError as exc:
        log.info("refresh of %s failed: %s", pvm, exc.message_admin)


# ------------------------------------------------------------------------------------------ templates
def _catalog_name(name: str) -> str:
    for suffix in ("-cloudinit", "-cloud-init", "-template"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def sync_endpoint_templates(endpoint: ProxmoxEndpoint, client: ProxmoxClient | None = None) -> dict:
    client = client or client_for(endpoint)
    now = timezone.now()
    seen, created, updated = set(), 0, 0
    for info in ops.list_templates(client):
        seen.add(info.vmid)
        boot = max(info.disks.values(), default=0)
        fields = {
            "node": info.node,
            "tags": info.tags,
            "cloud_init": info.cloud_init,
            "disks": dict(sorted(info.disks.items())),
            "min_disk_gib": max(1, math.ceil(boot / ops.GiB)) if boot else 1,
            "active": True,
            "vanished_at": None,
        }
        row = OSTemplate.objects.filter(endpoint=endpoint, vmid=info.vmid).first()
        if row is None:
            OSTemplate.objects.create(
                endpoint=endpoint,
                vmid=info.vmid,
                name=_catalog_name(info.name)[:64],
                source=OSTemplate.Source.SYNC,
                default_user=info.default_user[:32],
                os_family="talos" if "talos" in info.tags else "linux",
                **fields,
            )
            created += 1
        else:
            for key, value in fields.items():
                setattr(row, key, value)
            if info.default_user and not row.default_user:
                row.default_user = info.default_user[:32]
            row.save()
            updated += 1
    vanished = OSTemplate.objects.filter(endpoint=endpoint, vmid__isnull=False, vanished_at__isnull=True).exclude(
        vmid__in=list(seen)
    )
    gone = vanished.update(vanished_at=now, active=False)
    return {"endpoint": endpoint.name, "created": created, "updated": updated, "vanished": gone}


def sync_all_templates() -> dict:
    results = {}
    for endpoint in ProxmoxEndpoint.objects.filter(enabled=True):
        try:
            results[endpoint.name] = sync_endpoint_templates(endpoint)
        except ProxmoxError as exc:
            log.warning("template sync of %s failed: %s", endpoint.name, exc.message_admin)
            results[endpoint.name] = {"error": exc.message_user}
    return results


# ------------------------------------------------------------------------------------------ stalled chains
def resume_stalled(run_step_task, older_than: timedelta | None = None) -> int:
    from . import pipeline

    older_than = older_than or timedelta(seconds=pipeline.setting("PROVISIONING_STALL_SECONDS", 900))
    cutoff = timezone.now() - older_than
    resumed = 0
    quiet = VMRequest.objects.filter(state=State.PROVISIONING, state_changed_at__lt=cutoff).annotate(
        last_start=Max("provision_steps__started_at"), last_end=Max("provision_steps__finished_at")
    )
    from .tasks import provision_vm

    for request in VMRequest.objects.filter(state=State.APPROVED, state_changed_at__lt=cutoff):
        provision_vm.delay(request.pk)  # the hand-off message was lost
        resumed += 1
    for request in quiet:
        last = max([t for t in (request.last_start, request.last_end) if t], default=None)
        if last is not None and last >= cutoff:
            continue
        name = pipeline.next_pending(request)
        if name is not None:
            run_step_task.delay(request.pk, name)
            resumed += 1
    return resumed
