"""The platform self-test: the checks of the seed's VM-creation test script as one admin action.

Steps (each recorded on the `SelfTestRun` as it runs, so the admin page can show them live):

1. ``capi_provider``   - the management cluster serves the CAPI and capmox CRDs and the capmox controller is ready;
2. ``proxmox_cluster`` - every ProxmoxCluster reports ``ProxmoxAvailable=True``;
3. ``proxmox_api``     - the default Proxmox endpoint answers and has an online node;
4. ``create_vm``       - a throw-away VM request in the ``selftest`` tenant, submitted and approved (system actor
   ``self-test``) through `portal.services`, provisioned by the normal pipeline, waited for until ``ready``;
5. ``verify_vm``       - the VM exists in Proxmox with the requested sockets/cores/memory and the portal's marker;
6. ``delete_vm``       - the normal delete path (``deleting`` + ``provisioning.tasks.delete_vm``), waited for until
   ``deleted``, then checked gone from Proxmox.

A failing check stops the run (later checks are skipped); once a test VM exists, the delete step always runs so
nothing is left behind. Without a configured management cluster steps 1-2 are skipped, not failed.

Execution: normally in a Celery worker (``architecture.tasks.run_selftest``) that waits for the provisioning
worker by polling the database (bounded by ``SELFTEST_TIMEOUT`` seconds, default 600; this needs a second worker
slot). With ``inline=True`` (``SELFTEST_INLINE``; tests, single-process demos) the pipeline and the delete task run
in this process instead of waiting for a worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .models import SelfTestRun

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "self-test"
TENANT_SLUG = "selftest"
PASSED, FAILED, SKIPPED, RUNNING, PENDING = "passed", "failed", "skipped", "running", "pending"
STEPS: list[tuple[str, str]] = [
    ("capi_provider", "Cluster API provider (capmox) present"),
    ("proxmox_cluster", "ProxmoxCluster ready"),
    ("proxmox_api", "Proxmox API reachable"),
    ("create_vm", "Create a test VM through the normal pipeline"),
    ("verify_vm", "Verify the VM in Proxmox"),
    ("delete_vm", "Delete the test VM"),
]
CAPI_CRDS = ("clusters.cluster.x-k8s.io", "machines.cluster.x-k8s.io")
CAPMOX_CRDS = ("proxmoxclusters.infrastructure.cluster.x-k8s.io", "proxmoxmachines.infrastructure.cluster.x-k8s.io")


def setting(name: str, default):
    return getattr(settings, name, default)


class StepFailed(Exception):
    """The step's check failed; the message says what was wrong, in plain words."""


class StepSkipped(Exception):
    """The step could not be meaningful here (e.g. no management cluster configured)."""


# --------------------------------------------------------------------------------------------------
# Starting runs
# --------------------------------------------------------------------------------------------------


def initial_steps() -> list[dict]:
    return [
        {"name": n, "label": label, "status": PENDING, "message": "", "started": None, "finished": None}
        for n, label in STEPS
    ]


def fail_stale_runs() -> int:
    """Runs left `running`/`queued` by a dead worker: failed after the timeout plus a margin."""
    limit = timezone.now() - timedelta(seconds=float(setting("SELFTEST_TIMEOUT", 600)) * 3 + 300)
    stale = SelfTestRun.objects.filter(
        status__in=[SelfTestRun.Status.QUEUED, SelfTestRun.Status.RUNNING], started_at__lt=limit
    )
    count = 0
    for run in stale:
        run.status = SelfTestRun.Status.FAILED
        run.finished_at = timezone.now()
        run.steps = [
            dict(
                s,
                status=FAILED if s["status"] == RUNNING else s["status"],
                message=s["message"]
                or ("The worker stopped during this step." if s["status"] == RUNNING else s["message"]),
            )
            for s in run.steps
        ]
        run.save(update_fields=["status", "finished_at", "steps"])
        count += 1
    return count


def active_run() -> SelfTestRun | None:
    fail_stale_runs()
    return SelfTestRun.objects.filter(status__in=[SelfTestRun.Status.QUEUED, SelfTestRun.Status.RUNNING]).first()


def start(user) -> SelfTestRun:
    """Create a queued run (the caller enqueues `architecture.tasks.run_selftest` after commit)."""
    return SelfTestRun.objects.create(
        started_by=user if getattr(user, "is_authenticated", False) else None, steps=initial_steps()
    )


def execute(run_id: int, *, inline: bool | None = None) -> str:
    run = SelfTestRun.objects.get(pk=run_id)
    if run.status != SelfTestRun.Status.QUEUED:
        return run.status  # a duplicate delivery
    inline = bool(setting("SELFTEST_INLINE", False)) if inline is None else inline
    return SelfTest(run, inline=inline).run()


# --------------------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------------------


class SelfTest:
    def __init__(self, run: SelfTestRun, *, inline: bool):
        self.run_obj = run
        self.inline = inline
        self.timeout = float(setting("SELFTEST_TIMEOUT", 600))
        self.poll = float(setting("SELFTEST_POLL_SECONDS", 1.0))
        self.endpoint = None
        self.vm = None

    # -- bookkeeping
    def _step(self, name: str) -> dict:
        return next(s for s in self.run_obj.steps if s["name"] == name)

    def _save(self, *fields: str) -> None:
        self.run_obj.save(update_fields=["steps", *fields])

    def _do(self, name: str, func: Callable[[], str]) -> str:
        step = self._step(name)
        step.update(status=RUNNING, started=timezone.now().isoformat(), message="")
        self._save()
        try:
            step["message"] = func() or ""
            step["status"] = PASSED
        except StepSkipped as exc:
            step.update(status=SKIPPED, message=str(exc))
        except StepFailed as exc:
            step.update(status=FAILED, message=str(exc))
        except Exception as exc:  # a bug or an unexpected API error: still a clear, finished result
            log.exception("self-test step %s crashed", name)
            step.update(status=FAILED, message=f"Unexpected error: {type(exc).__name__}: {exc}"[:1000])
        step["finished"] = timezone.now().isoformat()
        self._save()
        return step["status"]

    def _skip_rest(self, names: list[str], why: str) -> None:
        for name in names:
            step = self._step(name)
            if step["status"] == PENDING:
                step.update(status=SKIPPED, message=why)
        self._save()

    def run(self) -> str:
        run = self.run_obj
        run.status, run.started_at = SelfTestRun.Status.RUNNING, timezone.now()
        run.steps = initial_steps()
        self._save("status", "started_at")
        order = [name for name, _ in STEPS]
        for name in ("capi_provider", "proxmox_cluster", "proxmox_api", "create_vm", "verify_vm"):
            status = self._do(name, getattr(self, f"step_{name}"))
            if status == FAILED:
                rest = order[order.index(name) + 1 :]
                if self.vm is not None:  # never leave the test VM behind
                    self._skip_rest([n for n in rest if n != "delete_vm"], f"Skipped: '{name}' failed.")
                    self._do("delete_vm", self.step_delete_vm)
                self._skip_rest(rest, f"Skipped: '{name}' failed.")
                break
        else:
            self._do("delete_vm", self.step_delete_vm)
        failed = any(s["status"] == FAILED for s in run.steps)
        run.status = SelfTestRun.Status.FAILED if failed else SelfTestRun.Status.PASSED
        run.finished_at = timezone.now()
        self._save("status", "finished_at")
        return run.status

    # -- management cluster
    def _kube(self):
        from .checks import NotConfigured, kube_client

        try:
            return kube_client()
        except NotConfigured as exc:
            raise StepSkipped(f"{exc} Cluster API checks skipped.") from None

    def step_capi_provider(self) -> str:
        from .checks import check_capmox_controller, kube_get

        api_client = self._kube()
        timeout = 10.0
        try:
            listing = (
                kube_get(api_client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", timeout=timeout) or {}
            )
            served = {i["metadata"]["name"] for i in listing.get("items") or []}
            missing = [n for n in (*CAPI_CRDS, *CAPMOX_CRDS) if n not in served]
            if missing:
                raise StepFailed(
                    f"CRDs missing on the management cluster: {', '.join(missing)}. Is the capmox "
                    "provider (capi-providers-proxmox) installed?"
                )
            controller = check_capmox_controller(api_client, timeout)
        finally:
            api_client.close()
        if controller.status != "ok":
            raise StepFailed(controller.summary)
        return f"CAPI and capmox CRDs served; {controller.summary}."

    def step_proxmox_cluster(self) -> str:
        from .checks import proxmox_cluster_rows

        api_client = self._kube()
        try:
            rows = proxmox_cluster_rows(api_client, 10.0)
        finally:
            api_client.close()
        if rows is None:
            raise StepFailed("The ProxmoxCluster kind is not served by the management cluster.")
        if not rows:
            raise StepSkipped("No ProxmoxCluster exists yet (one is created with the first Kubernetes cluster).")
        bad = [r for r in rows if r["available"] != "True"]
        if bad:
            raise StepFailed(
                "; ".join(
                    f"ProxmoxCluster {r['name']}: ProxmoxAvailable={r['available']} reason {r['reason'] or '-'}"
                    + (f" ({r['message']})" if r["message"] else "")
                    for r in bad
                )
            )
        return f"{len(rows)} ProxmoxClusters report ProxmoxAvailable=True."

    # -- Proxmox
    def _endpoint(self):
        from portal.models import ProxmoxEndpoint

        enabled = ProxmoxEndpoint.objects.filter(enabled=True)
        endpoint = enabled.filter(is_default=True).first() or enabled.first()
        if endpoint is None:
            raise StepFailed("No Proxmox endpoint is configured.")
        return endpoint

    def _client(self):
        from provisioning.proxmox.endpoints import client_for

        return client_for(self.endpoint, fresh=True)

    def step_proxmox_api(self) -> str:
        from .checks import check_proxmox_endpoint

        self.endpoint = self._endpoint()
        outcome = check_proxmox_endpoint(self.endpoint, timeout=10)
        if outcome.status == "down":
            raise StepFailed(f"{outcome.summary}: {outcome.error}")
        return f"Endpoint {self.endpoint.name}: {outcome.summary}."

    # -- the test VM
    def _tenant(self):
        from portal.models import Quota, Tenant, TenantNetwork

        tenant, _ = Tenant.objects.get_or_create(
            slug=TENANT_SLUG,
            defaults={
                "name": "Platform self-test",
                "endpoint": self.endpoint,
                "resource_pool": setting("SELFTEST_POOL", ""),
            },
        )
        if tenant.endpoint_id != self.endpoint.pk:
            tenant.endpoint = self.endpoint
            tenant.save(update_fields=["endpoint"])
        Quota.objects.get_or_create(
            tenant=tenant, defaults={"vcpus": 4, "memory_gib": 8, "disk_gib": 100, "vms": 3, "clusters": 0}
        )
        network, _ = TenantNetwork.objects.get_or_create(
            tenant=tenant,
            name="selftest",
            defaults={"bridge": setting("SELFTEST_BRIDGE", "vmbr0"), "vlan": setting("SELFTEST_VLAN", None)},
        )
        return tenant, network

    def _template(self):
        from django.db.models import Q

        from portal.models import OSTemplate

        templates = OSTemplate.objects.filter(active=True, vanished_at__isnull=True).filter(
            Q(endpoint=self.endpoint) | Q(endpoint__isnull=True)
        )
        wanted = setting("SELFTEST_TEMPLATE", "")
        if wanted:
            template = templates.filter(name=wanted).first()
            if template is None:
                raise StepFailed(f"The self-test template {wanted!r} (SELFTEST_TEMPLATE) is not in the catalog.")
            return template
        template = templates.filter(cloud_init=True).order_by("name").first() or templates.order_by("name").first()
        if template is None:
            raise StepFailed(f"No active OS template for endpoint {self.endpoint.name}: sync the templates first.")
        return template

    def step_create_vm(self) -> str:
        from portal import services
        from portal.models import Origin, VMRequest
        from portal.states import State

        tenant, network = self._tenant()
        template = self._template()
        vm = VMRequest(
            tenant=tenant,
            name=f"selftest-{self.run_obj.pk}",
            origin=Origin.SELFTEST,
            sockets=1,
            cores=1,
            memory_mib=int(setting("SELFTEST_MEMORY_MIB", 1024)),
            template=template,
            disk_gib=max(template.min_disk_gib, 1),
            network=network,
            run_strategy="Always",
        )
        try:
            vm.full_clean(exclude=["requested_by", "approved_by"])
            services.submit_vm(vm, actor=self.run_obj.started_by)
        except Exception as exc:
            raise StepFailed(f"The test VM request was refused: {exc}") from None
        self.vm = vm
        self.run_obj.vm_request = vm
        self._save("vm_request")
        services.approve(vm, system_actor=SYSTEM_ACTOR, reason=f"Platform self-test run {self.run_obj.pk}")
        if self.inline:
            self._provision_inline(vm.pk)
        vm = self._wait(vm.pk, {State.READY, State.FAILED}, "provisioned")
        if vm.state == State.FAILED:
            label = self._failed_step_label(vm)
            where = f" at {label}" if label and label not in vm.reason else ""
            raise StepFailed(f"Provisioning failed{where}: {vm.reason}")
        pvm = getattr(vm, "proxmox", None)
        where = f" as VM {pvm.vmid} on {pvm.node}" if pvm is not None and pvm.vmid else ""
        return f"Request {vm.name} ({template.name}) approved and provisioned{where}."

    def _provision_inline(self, vm_id: int) -> None:
        from provisioning import pipeline
        from provisioning.proxmox.errors import ProxmoxError

        next_step = None
        try:
            next_step = pipeline.run_all(vm_id)
        except ProxmoxError as exc:  # run_all raises transient errors instead of retrying them
            pipeline.fail(vm_id, pipeline.next_pending(self._reload(vm_id)) or "reserve_vmid", exc)
        if next_step is not None:
            self._reload(vm_id)

    def _reload(self, vm_id: int):
        from portal.models import VMRequest

        return VMRequest.objects.select_related("tenant").get(pk=vm_id)

    def _failed_step_label(self, vm) -> str:
        from provisioning.models import ProvisionStep, StepState
        from provisioning.pipeline import STEP_LABELS

        step = ProvisionStep.objects.filter(request=vm, state=StepState.FAILED).order_by("order").first()
        return STEP_LABELS.get(step.name, step.name) if step else ""

    def _wait(self, vm_id: int, states: set[str], what: str):
        deadline = time.monotonic() + self.timeout
        while True:
            vm = self._reload(vm_id)
            if vm.state in states:
                return vm
            if time.monotonic() >= deadline:
                hint = " No worker picked up the hand-off." if vm.state == "approved" else ""
                raise StepFailed(f"The test VM was not {what} within {self.timeout:g} s (state: {vm.state}).{hint}")
            time.sleep(self.poll)

    def step_verify_vm(self) -> str:
        from provisioning.models import ProxmoxVM, has_marker
        from provisioning.proxmox import operations as ops

        vm = self._reload(self.vm.pk)
        pvm = ProxmoxVM.objects.filter(request=vm).first()
        if pvm is None or pvm.vmid is None:
            raise StepFailed("The portal has no Proxmox VMID for the test VM.")
        client = self._client()
        item = ops.find_vm(client, pvm.vmid)
        if item is None:
            raise StepFailed(f"VM {pvm.vmid} is not in Proxmox although the request is ready.")
        config = ops.vm_config(client, item["node"], pvm.vmid)
        wrong = []
        for key, want in (("sockets", vm.sockets), ("cores", vm.cores), ("memory", vm.memory_mib)):
            have = config.get(key)
            try:
                matches = int(str(have).split(",")[0]) == want  # memory may read "1024" or "current=1024"
            except ValueError:
                matches = str(have).endswith(f"={want}")
            if not matches:
                wrong.append(f"{key} is {have}, requested {want}")
        if wrong:
            raise StepFailed(f"VM {pvm.vmid} does not match the request: {'; '.join(wrong)}.")
        if not has_marker(config.get("description"), vm.pk):
            raise StepFailed(f"VM {pvm.vmid} does not carry the portal's marker for request {vm.pk}.")
        return (
            f"VM {pvm.vmid} on {item['node']} is {item.get('status', '?')}: {vm.sockets} socket × {vm.cores} "
            f"core, {vm.memory_mib} MiB, portal marker present."
        )

    def step_delete_vm(self) -> str:
        from portal.handoff import send
        from portal.lifecycle import transition
        from portal.states import State
        from provisioning.models import ProxmoxVM
        from provisioning.proxmox import operations as ops

        if self.vm is None:
            raise StepSkipped("No test VM was created.")
        vm = self._reload(self.vm.pk)
        pvm = ProxmoxVM.objects.filter(request=vm).first()
        vmid = pvm.vmid if pvm else None
        if vm.state in (State.PENDING_APPROVAL, State.APPROVED):  # no worker began: nothing exists in Proxmox
            transition(
                vm,
                State.CANCELLED if vm.state == State.PENDING_APPROVAL else State.FAILED,
                system_actor=SYSTEM_ACTOR,
                reason="Self-test stopped before provisioning.",
            )
            vm = self._reload(vm.pk)
            if vm.state == State.FAILED and vmid is None:
                transition(vm, State.DELETED, system_actor=SYSTEM_ACTOR, reason="Nothing was created in Proxmox.")
                vm = self._reload(vm.pk)
        if vm.state in (State.READY, State.PROVISIONING, State.FAILED):
            transition(
                vm,
                State.DELETING,
                system_actor=SYSTEM_ACTOR,
                action="delete-requested",
                reason=f"Platform self-test run {self.run_obj.pk} cleans up",
            )
            if self.inline:
                from provisioning.tasks import delete_vm

                delete_vm.apply(args=[vm.pk])
            else:
                send("provisioning.tasks.delete_vm", vm.pk)
        if vm.state in (State.CANCELLED, State.DELETED):
            return "Nothing was created in Proxmox; the request is closed."
        vm = self._wait(vm.pk, {State.DELETED, State.FAILED}, "deleted")
        if vm.state == State.FAILED:
            raise StepFailed(f"Deleting the test VM failed: {vm.reason}")
        if vmid is not None and self.endpoint is not None:
            try:
                leftover = ops.find_vm(self._client(), vmid)
            except Exception as exc:
                message = f"The request is deleted but Proxmox could not be asked about VM {vmid}: {exc}"
                raise StepFailed(message) from None
            if leftover is not None:
                raise StepFailed(f"The request is deleted but VM {vmid} is still in Proxmox.")
            return f"VM {vmid} destroyed; it is gone from Proxmox and the request is deleted."
        return "The request is deleted."
