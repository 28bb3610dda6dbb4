"""Turning a reviewed plan into normal portal orders, validated by the portal's own order forms."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from migration.models import MigrationItem, MigrationPlan
from portal import audit, services
from portal.forms import ClusterRequestForm, NodeGroupFormSet, VMRequestForm
from portal.models import KubernetesVersion, NodeGroup, Origin, RunStrategy, TenantNetwork, VMRequest
from portal.quota import Usage, cluster_usage, quota_lines, quota_of, tenant_usage, vm_usage

from .engine import Context, image_key, network_keys

GROUPS_PREFIX = "groups"


@dataclass
class Orders:
    """The portal forms for every selected VM, their errors, and the quota they would use."""

    vm_forms: dict[int, VMRequestForm] = field(default_factory=dict)  # item pk -> bound form
    cluster_form: ClusterRequestForm | None = None
    group_formset: object = None
    group_items: list[MigrationItem] = field(default_factory=list)
    errors: dict[int, list[str]] = field(default_factory=dict)  # item pk -> messages
    plan_errors: list[str] = field(default_factory=list)
    adding: Usage = field(default_factory=Usage)
    quota: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.plan_errors and not any(self.errors.values())


def _run_strategy(vm_plan) -> str:
    spec = (vm_plan.source_doc or {}).get("spec") or {}
    strategy = spec.get("runStrategy")
    if strategy in RunStrategy.values:
        return strategy
    if spec.get("running") is False or strategy == "Halted":
        return RunStrategy.HALTED
    return RunStrategy.ALWAYS


def _memory_mib(vm_plan) -> int:
    return int(vm_plan.qm_config.get("memory") or vm_plan.summary.get("memoryMiB") or 512)


def _memory_gib(mib: int) -> str:
    return f"{max(mib, 512) / 1024:.1f}"


def _network_for(ctx: Context, vm_plan) -> TenantNetwork | None:
    for key in network_keys(vm_plan):
        if key in ctx.maps.networks:
            return ctx.maps.networks[key]
    return None


def vm_form_data(ctx: Context, item: MigrationItem, vm_plan) -> dict:
    """The order form as a person would fill it in for this VM."""
    config = vm_plan.qm_config
    sockets = int(config.get("sockets") or 1)
    cores = int(config.get("cores") or 1)
    template = ctx.maps.templates.get(image_key(vm_plan))
    network = _network_for(ctx, vm_plan)
    disk = vm_plan.summary.get("bootDiskGiB") or (template.min_disk_gib if template else 10)
    user_data = (vm_plan.cloud_init or {}).get("userData") or ""
    return {
        "name": item.target_name,
        "template": str(template.pk) if template else "",
        "instance_type": "",
        "vcpus": str(sockets * cores),
        "sockets": str(sockets),
        "memory_gib": _memory_gib(_memory_mib(vm_plan)),
        "disk_gib": str(disk),
        "network": str(network.pk) if network else "",
        "ssh_keys": (ctx.plan.target or {}).get("ssh_keys", ""),
        "user_data": user_data,
        "run_strategy": _run_strategy(vm_plan),
    }


def _form_messages(form) -> list[str]:
    out = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for error in errors:
            out.append(f"{label}: {error}" if label and name != "__all__" else str(error))
    return out


def build_orders(ctx: Context) -> Orders:
    plan = ctx.plan
    orders = Orders()
    groups: list[NodeGroup] = []
    group_data: dict = {}
    for item in ctx.selected:
        vm_plan = ctx.vm_plan(item)
        if vm_plan is None:
            orders.errors[item.pk] = ["This VM is no longer in the source manifests."]
            continue
        if item.mode == MigrationItem.Mode.NODE_GROUP:
            index = len(orders.group_items)
            orders.group_items.append(item)
            data = vm_form_data(ctx, item, vm_plan)
            group_data.update({
                f"{GROUPS_PREFIX}-{index}-name": item.target_name,
                f"{GROUPS_PREFIX}-{index}-min_replicas": "1",
                f"{GROUPS_PREFIX}-{index}-max_replicas": "1",
                f"{GROUPS_PREFIX}-{index}-vcpus": data["vcpus"],
                f"{GROUPS_PREFIX}-{index}-memory_gib": str(max(1, -(-_memory_mib(vm_plan) // 1024))),
                f"{GROUPS_PREFIX}-{index}-disk_gib": data["disk_gib"],
                f"{GROUPS_PREFIX}-{index}-roles": "",
            })  # fmt: skip
            continue
        form = VMRequestForm(vm_form_data(ctx, item, vm_plan), tenant=plan.tenant)
        orders.vm_forms[item.pk] = form
        if form.is_valid():
            orders.adding = orders.adding + vm_usage(form.instance)
        else:
            orders.errors[item.pk] = _form_messages(form)
    if orders.group_items:
        _build_cluster(ctx, orders, group_data, groups)
    orders.quota = quota_lines(quota_of(plan.tenant), tenant_usage(plan.tenant), orders.adding)
    for line in orders.quota:
        if line.exceeds:
            orders.plan_errors.append(
                f"Quota: {line.label} would reach {line.after:g} of {line.limit:g}; deselect VMs or ask for more quota."
            )
    return orders


def _build_cluster(ctx: Context, orders: Orders, group_data: dict, groups: list) -> None:
    target = ctx.plan.target or {}
    version = target.get("kubernetes_version") or getattr(
        KubernetesVersion.objects.filter(active=True, is_default=True).first(), "pk", ""
    )
    orders.cluster_form = ClusterRequestForm(
        {
            "name": target.get("cluster_name", ""),
            "kubernetes_version": str(version),
            "control_plane_replicas": "2",
            "network": str(target.get("cluster_network") or ""),
            "ssh_keys": target.get("ssh_keys", ""),
        },
        tenant=ctx.plan.tenant,
    )
    count = len(orders.group_items)
    data = {
        f"{GROUPS_PREFIX}-TOTAL_FORMS": str(count),
        f"{GROUPS_PREFIX}-INITIAL_FORMS": "0",
        f"{GROUPS_PREFIX}-MIN_NUM_FORMS": "1",
        f"{GROUPS_PREFIX}-MAX_NUM_FORMS": "10",
        **group_data,
    }
    orders.group_formset = NodeGroupFormSet(data, prefix=GROUPS_PREFIX, queryset=NodeGroup.objects.none())
    if not orders.cluster_form.is_valid():
        orders.plan_errors += [f"Cluster: {m}" for m in _form_messages(orders.cluster_form)]
    if not orders.group_formset.is_valid():
        for item, form in zip(orders.group_items, orders.group_formset.forms, strict=False):
            if form.errors:
                orders.errors[item.pk] = _form_messages(form)
        orders.plan_errors += [f"Node groups: {e}" for e in orders.group_formset.non_form_errors()]
    else:
        groups += [f.save(commit=False) for f in orders.group_formset.forms]
        orders.adding = orders.adding + cluster_usage(groups)


class SubmitError(Exception):
    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


def submit(ctx: Context, orders: Orders, *, actor) -> list:
    """Create every order in one transaction (all or nothing); returns the VM and cluster requests."""
    plan = ctx.plan
    if not orders.ok:
        raise SubmitError(orders.plan_errors + [m for ms in orders.errors.values() for m in ms])
    created = []
    try:
        with transaction.atomic():
            locked = MigrationPlan.objects.select_for_update().get(pk=plan.pk)
            if locked.status != MigrationPlan.Status.DRAFT:
                raise SubmitError(["This plan was already submitted."])
            for item_pk, form in orders.vm_forms.items():
                vm: VMRequest = form.save(commit=False)
                vm.origin = Origin.MIGRATION
                vm = services.submit_vm(vm, actor=actor)
                MigrationItem.objects.filter(pk=item_pk).update(vm_request=vm)
                audit.record(
                    "migration-submitted", vm, actor=actor, reason=f"From migration plan #{plan.pk} ({plan.name})."
                )
                created.append(vm)
            if orders.cluster_form is not None:
                cluster = orders.cluster_form.save(commit=False)
                cluster.origin = Origin.MIGRATION
                groups = [f.save(commit=False) for f in orders.group_formset.forms]
                cluster = services.submit_cluster(cluster, groups, actor=actor)
                MigrationItem.objects.filter(pk__in=[i.pk for i in orders.group_items]).update(cluster_request=cluster)
                audit.record(
                    "migration-submitted", cluster, actor=actor, reason=f"From migration plan #{plan.pk} ({plan.name})."
                )
                created.append(cluster)
            locked.status = MigrationPlan.Status.SUBMITTED
            locked.submitted_at = timezone.now()
            locked.kubeconfig_token = ""  # not needed any more: the manifests are in the plan
            locked.save(update_fields=["status", "submitted_at", "kubeconfig_token", "updated_at"])
            audit.record(
                "migration-plan-submitted",
                locked,
                actor=actor,
                reason=f"{len(created)} request(s) created; the stored kubeconfig (if any) was deleted.",
            )
    except services.QuotaExceeded as exc:
        raise SubmitError(list(exc.errors.values())) from None
    plan.refresh_from_db()
    return created


def order_notes(ctx: Context, vm_plan) -> list[str]:
    """What a portal order does not carry over from the converted plan (shown on the review, never blocking)."""
    notes = []
    nets = network_keys(vm_plan)
    network = _network_for(ctx, vm_plan)
    if len(nets) > 1 and network is not None:
        notes.append(
            f"The order attaches one NIC ({network.label}); add the other {len(nets) - 1} NIC(s) "
            f"({', '.join(nets[1:])}) after provisioning, with the bridges from the network map."
        )
    extra = [d for d in vm_plan.disks if not d.boot and d.action != "none"]
    if extra:
        notes.append(
            f"{len(extra)} extra disk(s) ({', '.join(d.slot for d in extra)}) are not part of the order: "
            "create them with the disk plan commands."
        )
    return notes
