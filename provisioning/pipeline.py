"""The VM provisioning pipeline: one step per Proxmox operation, each idempotent (it looks before it acts).

A step may run again at any time (a Celery retry, a worker killed mid-step, an admin retry): it first checks what
already exists in Proxmox (the VM at the reserved VMID, carrying this request's marker in its description) and only
then changes something. Every Proxmox task it starts is recorded (UPID) before it is awaited.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.lifecycle import transition
from portal.models import OSTemplate, ProxmoxEndpoint, RunStrategy, VMRequest
from portal.states import State

from .conf import setting
from .models import ProvisionStep, ProxmoxVM, StepState, VmidReservation, has_marker, marker_for
from .proxmox import operations as ops
from .proxmox.cidata import build_iso, network_config, seed_files
from .proxmox.client import ProxmoxClient
from .proxmox.endpoints import client_for
from .proxmox.errors import NotFound, PermanentError, ProxmoxError, TransientError

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "provisioner"
STEPS: list[tuple[str, str]] = [
    ("reserve_vmid", "Reserve VMID"),
    ("clone", "Clone template"),
    ("configure", "Configure hardware and cloud-init"),
    ("resize_disk", "Grow boot disk"),
    ("cloud_init", "Attach cloud-init data"),
    ("start", "Start VM"),
    ("guest_ready", "Wait for the guest"),
]
STEP_LABELS = dict(STEPS)
STEP_NAMES = [name for name, _ in STEPS]
# Steps whose result lives in the VM itself: redone from scratch if the VM is gone.
VM_STEPS = STEP_NAMES


class VmidConflict(TransientError):
    """The reserved VMID holds someone else's VM: reserve another and clone again."""


@dataclass
class Context:
    request: VMRequest
    pvm: ProxmoxVM
    endpoint: ProxmoxEndpoint
    client: ProxmoxClient
    step: ProvisionStep

    def save_step(self, *fields: str) -> None:
        self.step.save(update_fields=list(fields))

    def record_task(self, upid: str | None, node: str) -> None:
        """Save the UPID before waiting, so a restarted worker can find and await the same task."""
        self.step.upid = upid or ""
        self.step.node = node
        self.save_step("upid", "node")

    def wait(self, upid: str | None, node: str, timeout: float | None = None) -> None:
        self.client.wait_task(upid, node=node, timeout=timeout or setting("PROVISIONING_TASK_TIMEOUT", 900))


# ------------------------------------------------------------------------------------------ set-up
def resolve_endpoint(request: VMRequest) -> ProxmoxEndpoint:
    endpoint = request.tenant.endpoint or request.template.endpoint
    if endpoint is None:
        endpoint = ProxmoxEndpoint.objects.filter(is_default=True, enabled=True).first()
    if endpoint is None:
        endpoint = ProxmoxEndpoint.objects.filter(enabled=True).first()
    if endpoint is None:
        raise PermanentError("No Proxmox endpoint is configured.", "no enabled ProxmoxEndpoint", code="config")
    return endpoint


def ensure_steps(request: VMRequest) -> list[ProvisionStep]:
    existing = {s.name: s for s in request.provision_steps.all()}
    for order, name in enumerate(STEP_NAMES):
        if name not in existing:
            existing[name], _ = ProvisionStep.objects.get_or_create(
                request=request, name=name, defaults={"order": order}
            )
    return [existing[name] for name in STEP_NAMES]


def ensure_proxmox_vm(request: VMRequest) -> ProxmoxVM:
    pvm = ProxmoxVM.objects.filter(request=request).first()
    if pvm is None:
        pvm, _ = ProxmoxVM.objects.get_or_create(request=request, defaults={"endpoint": resolve_endpoint(request)})
    return pvm


def next_pending(request: VMRequest) -> str | None:
    for step in request.provision_steps.order_by("order"):
        if step.state not in (StepState.DONE, StepState.SKIPPED):
            return step.name
    return None


def begin(request_id: int) -> str | None:
    """approved -> provisioning, create the step rows; returns the first step to run (None: nothing to do)."""
    request = VMRequest.objects.select_related("tenant", "template").get(pk=request_id)
    if request.state == State.APPROVED:
        try:
            ensure_proxmox_vm(request)
        except PermanentError as exc:
            transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=exc.message_user)
            return None
        ensure_steps(request)
        transition(request, State.PROVISIONING, system_actor=SYSTEM_ACTOR)
    elif request.state != State.PROVISIONING:
        return None  # a duplicate or stale message: the request moved on
    ensure_proxmox_vm(request)
    ensure_steps(request)
    return next_pending(request)


# ------------------------------------------------------------------------------------------ running steps
def run_step(request_id: int, name: str) -> str | None:
    """Run one step if it is still to do. Returns the next step to run, or None when the pipeline is finished
    (the request is then ready) or no longer provisioning. ProxmoxErrors propagate after being noted on the step."""
    request = VMRequest.objects.select_related("tenant", "template", "network").get(pk=request_id)
    if request.state != State.PROVISIONING:
        return None
    steps = {s.name: s for s in ensure_steps(request)}
    step = steps[name]
    if step.state not in (StepState.DONE, StepState.SKIPPED):
        pvm = ensure_proxmox_vm(request)
        step.mark_running()
        ctx = Context(request, pvm, pvm.endpoint, client_for(pvm.endpoint), step)
        try:
            skipped = HANDLERS[name](ctx)
        except ProxmoxError as exc:
            step.message_user = exc.message_user
            step.message_admin = exc.message_admin
            step.save(update_fields=["message_user", "message_admin"])
            raise
        step.state = StepState.SKIPPED if skipped else StepState.DONE
        step.finished_at = timezone.now()
        step.message_user = step.message_admin = ""
        step.save(update_fields=["state", "finished_at", "message_user", "message_admin", "result"])
    following = next_pending(request)
    if following is None:
        finish(request)
    return following


def finish(request: VMRequest) -> None:
    request.refresh_from_db(fields=["state"])
    if request.state == State.PROVISIONING:
        transition(request, State.READY, system_actor=SYSTEM_ACTOR, reason="")


def run_all(request_id: int, *, stop_before: str | None = None) -> str | None:
    """Run the pipeline synchronously in this process (management commands, tests, the benchmark).
    Transient errors are raised, not retried. Returns the next step left to do."""
    name = begin(request_id)
    while name is not None and name != stop_before:
        try:
            name = run_step(request_id, name)
        except PermanentError as exc:
            fail(request_id, name, exc)
            return name
    return name


# ------------------------------------------------------------------------------------------ the steps
def _vmid_range(request: VMRequest, endpoint: ProxmoxEndpoint) -> tuple[int, int]:
    tenant = request.tenant
    if tenant.vmid_range_start is not None and tenant.vmid_range_end is not None:
        return tenant.vmid_range_start, tenant.vmid_range_end
    return endpoint.vmid_range_start, endpoint.vmid_range_end


def _vm_is_ours(ctx: Context, item: dict) -> bool:
    try:
        config = ops.vm_config(ctx.client, item["node"], int(item["vmid"]))
    except NotFound:
        return False
    return has_marker(config.get("description"), ctx.request.pk)


def release_vmid(pvm: ProxmoxVM) -> None:
    VmidReservation.objects.filter(request=pvm.request, external=False).delete()
    pvm.vmid = None
    pvm.save(update_fields=["vmid"])


def step_reserve_vmid(ctx: Context) -> bool:
    pvm = ctx.pvm
    if (
        pvm.vmid is not None
        and VmidReservation.objects.filter(endpoint=ctx.endpoint, vmid=pvm.vmid, request=ctx.request).exists()
    ):
        ctx.step.result = f"VMID {pvm.vmid} already reserved"
        return False
    start, end = _vmid_range(ctx.request, ctx.endpoint)
    in_proxmox = {int(item["vmid"]) for item in ops.cluster_vms(ctx.client)}
    reserved = set(
        VmidReservation.objects.filter(endpoint=ctx.endpoint, vmid__gte=start, vmid__lte=end).values_list(
            "vmid", flat=True
        )
    )
    for vmid in range(start, end + 1):
        if vmid in reserved or vmid in in_proxmox:
            continue
        try:
            with transaction.atomic():
                VmidReservation.objects.create(endpoint=ctx.endpoint, vmid=vmid, request=ctx.request)
        except IntegrityError:
            continue  # another worker took it a moment ago
        if not ops.vmid_is_free(ctx.client, vmid):  # authoritative check by Proxmox itself
            VmidReservation.objects.filter(endpoint=ctx.endpoint, vmid=vmid).update(request=None, external=True)
            continue
        pvm.vmid = vmid
        pvm.save(update_fields=["vmid"])
        ctx.step.result = f"Reserved VMID {vmid}"
        return False
    raise PermanentError(
        f"No free VMID is left in the range {start}-{end}.", f"VMID range {start}-{end} exhausted", code="no_vmid"
    )


def resolve_template(ctx: Context, resources: list[dict] | None = None) -> dict:
    """The live template (from /cluster/resources): by VMID, or by its exact tag set."""
    template: OSTemplate = ctx.request.template
    vms = [r for r in resources if r.get("type") == "qemu"] if resources is not None else ops.cluster_vms(ctx.client)
    if template.vmid is not None:
        found = [v for v in vms if int(v["vmid"]) == template.vmid and v.get("template")]
    else:
        wanted = sorted(t.lower() for t in template.tags)
        found = [v for v in vms if v.get("template") and sorted(ops.split_tags(v.get("tags"))) == wanted]
    if len(found) != 1:
        what = f"VMID {template.vmid}" if template.vmid is not None else f"tags {template.tags}"
        raise PermanentError(
            f"The OS template '{template.name}' is not available in Proxmox.",
            f"template {what}: {len(found)} matching template(s) in /cluster/resources",
            code="no_template",
        )
    return found[0]


def _placement(ctx: Context, source_node: str, resources: list[dict] | None = None) -> tuple[str, str | None]:
    """(target node, target storage). Local storage pins the clone to the template's node, as PVE requires."""
    tenant = ctx.request.tenant
    allowed = [n for n in tenant.allowed_nodes or [] if n]
    storage = tenant.storage or None
    storages = {s["storage"]: s for s in ctx.client.get(f"nodes/{source_node}/storage") or []}
    if storage and storage not in storages:
        raise PermanentError(
            f"The storage '{storage}' does not exist in Proxmox.",
            f"storage {storage} not on {source_node}",
            code="no_storage",
        )
    shared = bool(storage and storages[storage].get("shared"))
    known = ProxmoxVM.objects.filter(endpoint=ctx.endpoint, vmid__isnull=False).values_list(
        "vmid", "request__memory_mib"
    )
    capacities = ops.node_capacity(ctx.client, {vmid: mib * ops.MiB for vmid, mib in known}, resources)
    if not shared:
        capacities = {n: c for n, c in capacities.items() if n == source_node}
        if allowed and source_node not in allowed:
            raise PermanentError(
                f"The template lives on node {source_node}, which this tenant may not use, and its storage is not "
                "shared.",
                f"allowed={allowed}, template node={source_node}, storage={storage or 'template storage'} not shared",
                code="no_node",
            )
    node = ops.pick_node(
        capacities, ctx.request.memory_mib * ops.MiB, allowed, setting("PROVISIONING_MEMORY_ADJUSTMENT", 100)
    )
    return node, storage


def _description(request: VMRequest) -> str:
    try:
        link = settings.PORTAL_SITE_URL.rstrip("/") + request.get_absolute_url()
    except Exception:  # the portal URLconf may not be loaded in a bare worker
        link = ""
    return f"{request.name} for tenant {request.tenant.slug}\n{marker_for(request.pk)}\n{link}".strip()


def step_clone(ctx: Context) -> bool:
    pvm, request = ctx.pvm, ctx.request
    if pvm.vmid is None:
        raise VmidConflict("The reserved VMID was lost.", "clone step without a VMID", code="vmid_lost")
    resources = ctx.client.get("cluster/resources") or []  # one read for the VM, the template and the nodes
    existing = next((r for r in resources if r.get("type") == "qemu" and int(r["vmid"]) == pvm.vmid), None)
    if existing is not None:
        if not _vm_is_ours(ctx, existing):
            release_vmid(pvm)
            ProvisionStep.objects.filter(request=request, name="reserve_vmid").update(state=StepState.PENDING)
            raise VmidConflict(
                "The reserved VM ID was taken by another VM; picking a new one.",
                f"VMID {existing['vmid']} holds a VM without marker {marker_for(request.pk)}",
                code="vmid_conflict",
            )
        if existing.get("lock") == "clone" and ctx.step.upid:  # our clone is still copying
            ctx.wait(ctx.step.upid, ctx.step.node or existing["node"])
            existing = ops.find_vm(ctx.client, pvm.vmid) or existing
        elif existing.get("lock") == "clone":
            raise TransientError("The clone is still in progress.", f"VM {pvm.vmid} locked by clone", code="locked")
        pvm.node = existing["node"]
        pvm.save(update_fields=["node"])
        ctx.step.result = f"VM {pvm.vmid} already exists on {pvm.node}"
        return False
    template = resolve_template(ctx, resources)
    source = template["node"]
    node, storage = _placement(ctx, source, resources)
    full = request.template.full_clone if request.template.full_clone is not None else request.tenant.full_clone
    pvm.node = node
    pvm.save(update_fields=["node"])
    request.refresh_from_db(fields=["state"])
    if request.state != State.PROVISIONING:  # deleted or cancelled meanwhile: never clone for a dead request
        raise PermanentError("The request is no longer being provisioned.", f"state {request.state}", code="gone")
    try:
        upid = ops.clone(
            ctx.client,
            source_node=source,
            template_vmid=int(template["vmid"]),
            newid=pvm.vmid,
            name=request.name,
            full=full,
            target=node,
            storage=storage,
            pool=request.tenant.resource_pool or None,
            description=_description(request),
        )
    except PermanentError as exc:
        if exc.code != "exists":
            raise
        # Another run of this step (or another VM) got the VMID first: look again on the next attempt.
        raise TransientError("The VM ID is being used; checking again.", exc.message_admin, code="exists") from exc
    ctx.record_task(upid, source)
    ctx.wait(upid, source)
    pvm.power_state = "stopped"
    pvm.save(update_fields=["power_state"])
    kind = "full" if full else "linked"
    ctx.step.result = f"{kind} clone of {template['name']} ({template['vmid']}) to VM {pvm.vmid} on {node}"
    return False


def _require_vm(ctx: Context) -> dict:
    """The VM's current status (cheap: its own node first, the cluster list only if it moved)."""
    item = None
    if ctx.pvm.vmid and ctx.pvm.node:
        try:
            item = dict(ops.vm_status(ctx.client, ctx.pvm.node, ctx.pvm.vmid), node=ctx.pvm.node)
        except NotFound:
            item = None
    if item is None and ctx.pvm.vmid:
        item = ops.find_vm(ctx.client, ctx.pvm.vmid)
    if item is None:
        raise PermanentError(
            "The VM disappeared from Proxmox during provisioning.",
            f"VM {ctx.pvm.vmid} not found in /cluster/resources",
            code="vm_missing",
        )
    if item.get("lock"):
        raise TransientError(
            f"The VM is locked by another Proxmox operation ({item['lock']}).",
            f"VM {ctx.pvm.vmid} lock={item['lock']}",
            code="locked",
        )
    if item["node"] != ctx.pvm.node:
        ctx.pvm.node = item["node"]
        ctx.pvm.save(update_fields=["node"])
    return item


def desired_config(ctx: Context, current: dict) -> dict:
    request = ctx.request
    network = request.network
    want: dict = {
        "sockets": request.sockets,
        "cores": request.cores,
        "memory": request.memory_mib,
        "net0": ops.net0_value(network.bridge, network.vlan, mac=ops.mac_of(current.get("net0", ""))),
        "tags": ops.tags_value(["portal", f"tenant-{request.tenant.slug}", f"req-{request.pk}"]),
        "onboot": 1 if request.run_strategy in (RunStrategy.ALWAYS, RunStrategy.RERUN_ON_FAILURE) else 0,
        "agent": 1,
    }
    native_ci = request.template.cloud_init and not request.user_data and ops.has_cloudinit_drive(current)
    if native_ci:
        want["ciuser"] = request.ci_user or request.template.default_user or current.get("ciuser", "")
        want["ipconfig0"] = ops.ipconfig0_value(request.ip_address or "", network.cidr, network.gateway or "")
        if request.ip_address and network.dns_servers:
            want["nameserver"] = " ".join(network.dns_servers)
        if request.ssh_keys.strip():
            want["sshkeys"] = ops.encode_sshkeys(request.ssh_keys)
    return {k: v for k, v in want.items() if v not in ("", None)}


def _same(key: str, have, want) -> bool:
    if have is None:
        return False
    if key == "sshkeys":
        return ops.decode_sshkeys(str(have)) == ops.decode_sshkeys(str(want))
    if key == "agent":
        return str(have).split(",")[0] in ("1", "enabled=1")
    if key == "tags":
        return sorted(ops.split_tags(str(have))) == sorted(ops.split_tags(str(want)))
    return str(have) == str(want)


def step_configure(ctx: Context) -> bool:
    item = _require_vm(ctx)
    node = item["node"]
    current = ops.vm_config(ctx.client, node, ctx.pvm.vmid)
    want = desired_config(ctx, current)
    changes = {k: v for k, v in want.items() if not _same(k, current.get(k), v)}
    if not changes:
        ctx.step.result = "Configuration already as requested"
        return False
    upid = ops.set_config(ctx.client, node, ctx.pvm.vmid, **changes)
    ctx.record_task(upid, node)
    ctx.wait(upid, node)
    ctx.step.result = "Set " + ", ".join(sorted(changes))
    return False


def step_resize_disk(ctx: Context) -> bool:
    item = _require_vm(ctx)
    node = item["node"]
    config = ops.vm_config(ctx.client, node, ctx.pvm.vmid)
    disk = ops.boot_disk(config)
    if disk is None:
        raise PermanentError(
            "The template has no boot disk to grow.", f"no disk in config {sorted(config)}", code="no_disk"
        )
    key, size = disk
    requested = ctx.request.disk_gib * ops.GiB
    ctx.pvm.disk_key = key
    ctx.pvm.disk_requested_gib = ctx.request.disk_gib
    ctx.pvm.save(update_fields=["disk_key", "disk_requested_gib"])
    if size >= requested:  # never shrink
        ctx.step.result = f"{key} is {size / ops.GiB:.1f} GiB, at least the requested {ctx.request.disk_gib} GiB"
        return True
    upid = ops.resize_disk(ctx.client, node, ctx.pvm.vmid, key, ctx.request.disk_gib)
    ctx.record_task(upid, node)
    ctx.wait(upid, node)
    ctx.step.result = f"Grew {key} from {size / ops.GiB:.1f} GiB to {ctx.request.disk_gib} GiB"
    return False


def _iso_storage(ctx: Context, node: str) -> str:
    if ctx.endpoint.iso_storage:
        return ctx.endpoint.iso_storage
    candidates = ops.iso_storages(ctx.client, node)
    if not candidates:
        raise PermanentError(
            "No storage on the node accepts ISO images for the cloud-init data.",
            f"no active storage with content iso on {node}",
            code="no_iso_storage",
        )
    return candidates[0]


def cloud_init_files(ctx: Context, mac: str | None) -> dict[str, bytes]:
    import yaml

    request = ctx.request
    user_data = request.user_data
    if user_data.lstrip().startswith("#cloud-config") and request.ssh_keys.strip():
        limit = setting("PORTAL_MAX_USER_DATA_BYTES", 64 * 1024)
        parsed = yaml.safe_load(user_data[:limit]) or {}
        if isinstance(parsed, dict):  # add the request's keys, keep the user's own
            keys = list(parsed.get("ssh_authorized_keys") or [])
            parsed["ssh_authorized_keys"] = keys + [k for k in request.ssh_key_list() if k not in keys]
            user_data = "#cloud-config\n" + yaml.safe_dump(parsed, sort_keys=False)
    network = request.network
    address = ""
    if request.ip_address:
        prefix = network.network.prefixlen if network.network else 32
        address = f"{request.ip_address}/{prefix}"
    return seed_files(
        hostname=request.name,
        instance_id=f"portal-{request.pk}-{ctx.pvm.vmid}",
        user_data=user_data,
        network_config=network_config(mac, address, network.gateway or "", network.dns_servers or []),
    )


def step_cloud_init(ctx: Context) -> bool:
    if not ctx.request.user_data.strip():
        ctx.step.result = "No custom user data: Proxmox's own cloud-init settings are used"
        return True
    item = _require_vm(ctx)
    node, vmid = item["node"], ctx.pvm.vmid
    config = ops.vm_config(ctx.client, node, vmid)
    storage = ctx.pvm.iso_storage or _iso_storage(ctx, node)
    filename = f"portal-cidata-{vmid}.iso"
    volid = f"{storage}:iso/{filename}"
    attached = [k for k, v in config.items() if k.startswith("ide") and str(v).split(",")[0] == volid]
    ctx.pvm.iso_storage, ctx.pvm.iso_volume = storage, volid
    ctx.pvm.save(update_fields=["iso_storage", "iso_volume"])
    if attached:
        ctx.step.result = f"{volid} already attached as {attached[0]}"
        return False
    if volid not in ops.storage_volumes(ctx.client, node, storage):
        data = build_iso(cloud_init_files(ctx, ops.mac_of(config.get("net0", ""))))
        upid = ops.upload_iso(ctx.client, node, storage, filename, data)
        ctx.record_task(upid, node)
        ctx.wait(upid, node)
    # Our seed replaces Proxmox's cloud-init drive: two `cidata` disks would confuse cloud-init.
    pve_drives = [k for k, v in config.items() if k.startswith(("ide", "sata", "scsi")) and "cloudinit" in str(v)]
    free = next((f"ide{i}" for i in (0, 1, 3, 2) if f"ide{i}" not in config or f"ide{i}" in pve_drives), None)
    if free is None:
        raise PermanentError(
            "The VM has no free IDE slot for the cloud-init ISO.", f"ide0-3 used: {config}", code="no_slot"
        )
    changes: dict = {free: f"{volid},media=cdrom"}
    removable = [k for k in pve_drives if k != free]
    if removable:
        changes["delete"] = ",".join(removable)
    upid = ops.set_config(ctx.client, node, vmid, **changes)
    ctx.record_task(upid, node)
    ctx.wait(upid, node)
    ctx.step.result = f"Uploaded {filename} to {storage} and attached it as {free}"
    return False


def step_start(ctx: Context) -> bool:
    if ctx.request.run_strategy == RunStrategy.HALTED:
        ctx.step.result = "Run strategy 'Halted': the VM stays stopped"
        return True
    item = _require_vm(ctx)
    node = item["node"]
    if item.get("status") == "running":
        ctx.step.result = "Already running"
        return False
    upid = ops.power(ctx.client, node, ctx.pvm.vmid, "start")
    ctx.record_task(upid, node)
    ctx.wait(upid, node)
    ctx.pvm.power_state = "running"
    ctx.pvm.save(update_fields=["power_state"])
    ctx.step.result = f"Started on {node}"
    return False


def step_guest_ready(ctx: Context) -> bool:
    import time

    pvm = ctx.pvm
    if ctx.request.run_strategy == RunStrategy.HALTED:
        return True
    item = _require_vm(ctx)
    node = item["node"]
    deadline = time.monotonic() + setting("PROVISIONING_START_TIMEOUT", 120)
    while True:
        status = ops.vm_status(ctx.client, node, pvm.vmid)
        if status.get("status") == "running":
            break
        if time.monotonic() > deadline:
            raise TransientError(
                "The VM did not come up in time.", f"VM {pvm.vmid} status {status.get('status')}", code="start_timeout"
            )
        time.sleep(ctx.client.poll_interval)
    addresses = None
    agent_deadline = time.monotonic() + setting("PROVISIONING_AGENT_WAIT", 30)
    while addresses is None:  # the agent starts with the guest; ask a few times, then carry on without
        addresses = ops.guest_addresses(ctx.client, node, pvm.vmid)
        remaining = agent_deadline - time.monotonic()
        if addresses is not None or remaining <= 0:
            break
        time.sleep(min(1.0, remaining))
    pvm.power_state = "running"
    pvm.uptime_seconds = int(status.get("uptime") or 0)
    pvm.ip_addresses = addresses or []
    pvm.last_synced_at = timezone.now()
    pvm.save(update_fields=["power_state", "uptime_seconds", "ip_addresses", "last_synced_at"])
    if addresses:
        ctx.step.result = "Running; guest agent reports " + ", ".join(addresses)
    else:
        ctx.step.result = "Running; the guest agent did not answer (no IP addresses known yet)"
    return False


HANDLERS = {
    "reserve_vmid": step_reserve_vmid,
    "clone": step_clone,
    "configure": step_configure,
    "resize_disk": step_resize_disk,
    "cloud_init": step_cloud_init,
    "start": step_start,
    "guest_ready": step_guest_ready,
}


# ------------------------------------------------------------------------------------------ failure, cleanup, retry
def remove_vm(pvm: ProxmoxVM, client: ProxmoxClient | None = None, on_task=None) -> list[str]:
    """Stop and destroy the request's VM (only if it carries our marker), delete its ISO, release the VMID.
    Returns what was done; raises ProxmoxError if Proxmox could not be brought to that state."""
    done: list[str] = []
    if pvm.vmid is None and not pvm.iso_volume:  # nothing was created in Proxmox: nothing to ask it
        release_vmid(pvm)
        return done
    client = client or client_for(pvm.endpoint)
    if pvm.vmid is not None:
        item = ops.find_vm(client, pvm.vmid)
        if item is not None:
            config = ops.vm_config_or_none(client, item["node"], pvm.vmid) or {}
            if not has_marker(config.get("description"), pvm.request_id):
                done.append(f"VMID {pvm.vmid} holds a VM that is not ours; left alone")
            else:
                node = item["node"]
                if item.get("lock"):
                    raise TransientError(
                        f"The VM is locked by another Proxmox operation ({item['lock']}).",
                        f"VM {pvm.vmid} lock={item['lock']}",
                        code="locked",
                    )
                timeout = setting("PROVISIONING_TASK_TIMEOUT", 900)
                if item.get("status") == "running":  # PVE refuses to destroy a running VM
                    upid = ops.power(client, node, pvm.vmid, "stop")
                    if on_task:
                        on_task(upid, node)
                    client.wait_task(upid, node=node, timeout=timeout)
                    done.append(f"stopped VM {pvm.vmid}")
                upid = ops.destroy(client, node, pvm.vmid)
                if on_task:
                    on_task(upid, node)
                client.wait_task(upid, node=node, timeout=timeout)
                done.append(f"destroyed VM {pvm.vmid} on {node}")
    if pvm.iso_volume:
        remove_iso(pvm, client)
        done.append(f"deleted {pvm.iso_volume}")
        pvm.iso_volume = ""
    release_vmid(pvm)
    pvm.node = ""
    pvm.power_state = ""
    pvm.cleanup_pending = False
    pvm.cleanup_message = ""
    pvm.ip_addresses = []
    pvm.save(update_fields=["iso_volume", "node", "power_state", "cleanup_pending", "cleanup_message", "ip_addresses"])
    return done


def remove_iso(pvm: ProxmoxVM, client: ProxmoxClient) -> None:
    storage = pvm.iso_storage or pvm.iso_volume.split(":", 1)[0]
    node = pvm.node or next((n["node"] for n in client.get("nodes") or [] if n.get("status") == "online"), "")
    if node and pvm.iso_volume in ops.storage_volumes(client, node, storage):
        client.wait_task(ops.delete_volume(client, node, storage, pvm.iso_volume), node=node)


def fail(request_id: int, step_name: str, exc: ProxmoxError) -> None:
    """Mark the step failed, remove what was created (or list it for the admin), move the request to failed."""
    request = VMRequest.objects.select_related("tenant").get(pk=request_id)
    step = ProvisionStep.objects.filter(request=request, name=step_name).first()
    if step is not None:
        step.state = StepState.FAILED
        step.finished_at = timezone.now()
        step.message_user = exc.message_user
        step.message_admin = exc.message_admin
        step.save(update_fields=["state", "finished_at", "message_user", "message_admin"])
    pvm = ProxmoxVM.objects.filter(request=request).select_related("endpoint").first()
    if pvm is not None:
        cleanup_after_failure(pvm)
    request.refresh_from_db(fields=["state"])
    if request.state in (State.PROVISIONING, State.APPROVED):
        label = STEP_LABELS.get(step_name, step_name)
        transition(request, State.FAILED, system_actor=SYSTEM_ACTOR, reason=f"{label} failed: {exc.message_user}")


def cleanup_after_failure(pvm: ProxmoxVM) -> None:
    if setting("PROVISIONING_KEEP_FAILED_VMS", False) and pvm.vmid is not None:
        pvm.cleanup_pending = True
        pvm.cleanup_message = f"VM {pvm.vmid} on {pvm.node or '?'} was kept for inspection."
        pvm.save(update_fields=["cleanup_pending", "cleanup_message"])
        return
    try:
        done = remove_vm(pvm)
        if done:  # tell everyone what was tidied away (remove_vm cleared the message fields)
            pvm.cleanup_message = "Removed from Proxmox after the failure: " + "; ".join(done) + "."
            pvm.save(update_fields=["cleanup_message"])
    except ProxmoxError as exc:
        log.warning("cleanup of %s failed: %s", pvm, exc.message_admin)
        pvm.cleanup_pending = True
        pvm.cleanup_message = f"Automatic cleanup failed: {exc.message_user} ({exc.message_admin})"
        pvm.save(update_fields=["cleanup_pending", "cleanup_message"])


def prepare_retry(request: VMRequest) -> str:
    """Reset the failed step and everything after it (everything, if the VM is gone); returns the first step."""
    pvm = ensure_proxmox_vm(request)
    if not pvm.cleanup_pending and pvm.cleanup_message:
        pvm.cleanup_message = ""
        pvm.save(update_fields=["cleanup_message"])
    steps = ensure_steps(request)
    failed = next((s for s in steps if s.state in (StepState.FAILED, StepState.RUNNING, StepState.PENDING)), None)
    start = failed.order if failed is not None else 0
    if pvm.vmid is None:
        start = 0  # the VM was cleaned up: reserve and clone again, then carry on
    for s in steps:
        if s.order >= start:
            s.state = StepState.PENDING
            s.upid = ""
            s.attempts = 0
            s.started_at = s.finished_at = None
            s.message_user = s.message_admin = s.result = ""
            s.save()
    return STEP_NAMES[start]


def retry_after_failure(request: VMRequest, actor=None) -> str:
    first = prepare_retry(request)
    transition(
        request,
        State.PROVISIONING,
        actor=actor,
        system_actor=SYSTEM_ACTOR if actor is None else "",
        action="retry",
        reason=f"Retry from step '{STEP_LABELS[first]}'",
    )
    return first


def backoff(attempt: int) -> float:
    base = setting("PROVISIONING_RETRY_BASE_SECONDS", 2.0)
    cap = setting("PROVISIONING_RETRY_CAP_SECONDS", 60.0)
    return min(cap, base * math.pow(2, max(attempt, 0)))
