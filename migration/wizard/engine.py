"""Conversion of a saved plan, its maps in portal terms, and the validation of every wizard step."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import transaction
from django.db.models import Q

from migration.core import RULES_VERSION, ConversionResult, InputError, Mappings, convert
from migration.models import MigrationItem, MigrationPlan
from portal.models import OSTemplate, TenantNetwork

STEPS = [
    ("source", "Source"),
    ("vms", "Select VMs"),
    ("network", "Network map"),
    ("storage", "Storage map"),
    ("target", "Target"),
    ("review", "Review"),
]
STEP_KEYS = [key for key, _ in STEPS]
# Concerns that only say "you have not mapped this yet": the map steps handle them, not the VM selection.
MAP_RULES = {"multus-unmapped", "storage-unmapped", "template-unmapped"}
POD = "pod"
DEFAULT_STORAGE_KEY = "(no storage class)"
STORAGE_ID = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-_.]{0,63}$")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class PlanError(Exception):
    """The plan's source cannot be converted any more (should not happen: it was checked when saved)."""


def tenant_networks(plan: MigrationPlan):
    return TenantNetwork.objects.filter(tenant=plan.tenant).order_by("name")


def tenant_templates(plan: MigrationPlan):
    templates = OSTemplate.objects.filter(active=True, vanished_at__isnull=True)
    endpoint = plan.tenant.effective_endpoint()
    if endpoint is not None:
        templates = templates.filter(Q(endpoint__isnull=True) | Q(endpoint=endpoint))
    return templates.order_by("name")


def storage_choices(plan: MigrationPlan) -> list[str]:
    """Storages to suggest: the tenant's, then what synced templates and the endpoint report."""
    names = [plan.tenant.storage] if plan.tenant.storage else []
    for name in ("local-lvm", "local-zfs", "ceph-vm", "local"):
        if name not in names:
            names.append(name)
    return names


# ------------------------------------------------------------------------------------------------ conversion
def _vmi_spec(doc: dict) -> dict:
    spec = doc.get("spec") or {}
    kind = doc.get("kind")
    if kind == "VirtualMachineInstance":
        return spec
    if kind == "VirtualMachinePool":
        spec = ((spec.get("virtualMachineTemplate") or {}).get("spec")) or {}
    if kind == "KubevirtMachineTemplate":
        spec = (((spec.get("template") or {}).get("spec") or {}).get("virtualMachineTemplate") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def network_keys(vm_plan) -> list[str]:
    """Source networks of one converted VM: "pod" or the multus network as "namespace/name"."""
    keys = []
    ns = vm_plan.namespace or "default"
    for net in _vmi_spec(vm_plan.source_doc or {}).get("networks") or []:
        if not isinstance(net, dict):
            continue
        if "pod" in net:
            key = POD
        elif isinstance(net.get("multus"), dict) and net["multus"].get("networkName"):
            name = str(net["multus"]["networkName"])
            key = name if "/" in name else f"{ns}/{name}"
        else:
            continue
        if key not in keys:
            keys.append(key)
    # No `networks` list: KubeVirt attaches the pod network; a portal order always has one NIC to map anyway.
    return keys or [POD]


def storage_keys(vm_plan) -> list[str]:
    keys = []
    for disk in vm_plan.disks:
        if disk.action == "none":
            continue
        key = disk.storage_class or DEFAULT_STORAGE_KEY
        if key not in keys:
            keys.append(key)
    return keys


def image_key(vm_plan) -> str:
    """The boot source the template map keys on (containerDisk image, DataVolume origin), or the boot PVC."""
    boot = next((d for d in vm_plan.disks if d.boot), None)
    if boot is None:
        return f"no boot disk: {vm_plan.namespace or 'default'}/{vm_plan.name}"
    if boot.origin and boot.origin not in ("blank", "upload"):
        return boot.origin
    return f"{boot.source_type}:{vm_plan.namespace or 'default'}/{boot.source or boot.name}"


def item_key(vm_plan) -> str:
    base = f"{vm_plan.namespace or 'default'}/{vm_plan.name}"
    replica = vm_plan.source.get("replica")
    return base if replica is None else f"{base}#{replica}"


@dataclass
class Maps:
    """The plan's maps resolved to portal objects (stale references are simply absent)."""

    networks: dict[str, TenantNetwork] = field(default_factory=dict)
    storage: dict[str, str] = field(default_factory=dict)
    templates: dict[str, OSTemplate] = field(default_factory=dict)


def resolve_maps(plan: MigrationPlan) -> Maps:
    raw = plan.mappings or {}
    nets = {n.pk: n for n in tenant_networks(plan)}
    tpls = {t.pk: t for t in tenant_templates(plan)}
    maps = Maps()
    for key, pk in (raw.get("network") or {}).items():
        if isinstance(pk, int) and pk in nets:
            maps.networks[key] = nets[pk]
    for key, name in (raw.get("storage") or {}).items():
        if isinstance(name, str) and STORAGE_ID.match(name):
            maps.storage[key] = name
    for key, pk in (raw.get("templates") or {}).items():
        if isinstance(pk, int) and pk in tpls:
            maps.templates[key] = tpls[pk]
    return maps


def _template_target(template: OSTemplate) -> dict:
    if template.vmid is not None and template.node:
        return {"templateID": template.vmid, "sourceNode": template.node}
    return {"matchTags": list(template.tags) or ["kubevirt-import"]}


def core_mappings(plan: MigrationPlan, maps: Maps | None = None) -> Mappings:
    network, storage, templates = map_dicts(plan, maps or resolve_maps(plan))
    try:
        return Mappings.from_dicts(network=network, storage=storage, templates=templates)
    except InputError as exc:  # e.g. a bridge name the core refuses
        raise PlanError(f"The maps cannot be used: {exc}") from None


def map_dicts(plan: MigrationPlan, maps: Maps) -> tuple[dict, dict, dict]:
    """The converter's map files (network, storage, templates) for the plan's maps."""
    network: dict = {"networks": {}}
    for key, net in maps.networks.items():
        target = {"bridge": net.bridge, **({"vlan": net.vlan} if net.vlan else {})}
        if key == POD:
            network["pod"] = target
        else:
            network["networks"][key] = target
    storage: dict = {"storageClasses": {}}
    for key, name in maps.storage.items():
        if key == DEFAULT_STORAGE_KEY:
            storage["default"] = name
        else:
            storage["storageClasses"][key] = name
    if plan.tenant.storage:
        storage["efi"] = plan.tenant.storage
    node = (plan.target or {}).get("node")
    if node:
        storage["node"] = node
    templates = {"sources": {key: _template_target(t) for key, t in maps.templates.items()}}
    return network, storage, templates


@lru_cache(maxsize=4)
def _convert_cached(text: str, maps_json: str) -> ConversionResult:
    """One request converts the same plan several times (step states, view, review): convert once."""
    network, storage, templates = json.loads(maps_json)
    try:
        mappings = Mappings.from_dicts(network=network, storage=storage, templates=templates)
    except InputError as exc:
        raise PlanError(f"The maps cannot be used: {exc}") from None
    try:
        return convert(text, mappings)
    except InputError as exc:
        raise PlanError(f"The source manifests cannot be converted: {exc}") from None


def convert_plan(plan: MigrationPlan, *, with_maps: bool = True, maps: Maps | None = None) -> ConversionResult:
    """Results are shared between callers: treat them as read-only."""
    if not plan.source_text:
        raise PlanError("The plan has no source manifests yet.")
    dicts = map_dicts(plan, maps or resolve_maps(plan)) if with_maps else (None, None, None)
    return _convert_cached(plan.source_text, json.dumps(dicts, sort_keys=True))


def inventory_summary(vm_plan) -> dict:
    """What the VM table shows; concern counts leave out the "not mapped yet" rules."""
    counts = {"Critical": 0, "Warning": 0, "Information": 0}
    for concern in vm_plan.concerns:
        if concern.id not in MAP_RULES:
            counts[concern.category] += 1
    summary = vm_plan.summary
    run = (vm_plan.source_doc or {}).get("spec", {}) or {}
    run_state = run.get("runStrategy") or {True: "Always", False: "Halted"}.get(run.get("running"), "")
    return {
        "vcpus": summary.get("vcpus"),
        "memoryMiB": summary.get("memoryMiB"),
        "disks": summary.get("disks"),
        "bootDiskGiB": summary.get("bootDiskGiB"),
        "networks": network_keys(vm_plan),
        "runState": run_state or ("Running" if vm_plan.source.get("kind") == "VirtualMachineInstance" else ""),
        "concerns": counts,
    }


@transaction.atomic
def replace_source(plan: MigrationPlan, text: str, kind: str, description: str) -> ConversionResult:
    """Store new manifests and rebuild the VM list; maps and choices for VMs that remain are kept."""
    previous = plan.source_text
    plan.source_text = text
    try:
        result = convert_plan(plan, with_maps=False)
    except PlanError:
        plan.source_text = previous
        raise
    if not result.plans:
        plan.source_text = previous
        raise PlanError("No VirtualMachine was found in the manifests.")
    plan.source_kind = kind
    plan.source_description = description[:500]
    plan.rules_version = RULES_VERSION
    plan.save()
    existing = {item.key: item for item in plan.items.all()}
    kept = []
    for vm_plan in result.plans:
        key = item_key(vm_plan)
        item = existing.get(key) or MigrationItem(
            plan=plan,
            namespace=vm_plan.namespace,
            name=vm_plan.name,
            replica=vm_plan.source.get("replica"),
            target_name=_default_target_name(vm_plan),
        )
        item.kind = vm_plan.source.get("kind", "VirtualMachine")
        item.summary = inventory_summary(vm_plan)
        item.save()
        kept.append(item.pk)
    plan.items.exclude(pk__in=kept).delete()
    return result


def _default_target_name(vm_plan) -> str:
    name = vm_plan.name.lower().replace(".", "-").replace("_", "-")[:63].strip("-")
    replica = vm_plan.source.get("replica")
    if replica is not None and not name.endswith(f"-{replica}"):
        name = f"{name[:58]}-{replica}"
    return name


# ------------------------------------------------------------------------------------------------ validation
@dataclass
class Context:
    """One conversion of the plan with its maps, shared by all step checks of one request."""

    plan: MigrationPlan
    result: ConversionResult
    maps: Maps
    items: list[MigrationItem]

    @property
    def selected(self) -> list[MigrationItem]:
        return [i for i in self.items if i.selected]

    def vm_plans(self, selected_only: bool = True) -> list:
        keys = {i.key for i in (self.selected if selected_only else self.items)}
        return [p for p in self.result.plans if item_key(p) in keys]

    def vm_plan(self, item: MigrationItem):
        return next((p for p in self.result.plans if item_key(p) == item.key), None)

    def needed_networks(self) -> dict[str, list[str]]:
        return _needed(self.vm_plans(), network_keys)

    def needed_storage(self) -> dict[str, list[str]]:
        return _needed(self.vm_plans(), storage_keys)

    def needed_images(self) -> dict[str, list[str]]:
        return _needed(self.vm_plans(), lambda p: [image_key(p)])


def _needed(vm_plans, keys_of) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for vm_plan in vm_plans:
        for key in keys_of(vm_plan):
            out.setdefault(key, []).append(item_key(vm_plan))
    return dict(sorted(out.items(), key=lambda kv: (kv[0] != POD, kv[0])))


def build_context(plan: MigrationPlan) -> Context | None:
    if not plan.source_text:
        return None
    maps = resolve_maps(plan)
    try:
        result = convert_plan(plan, maps=maps)
    except PlanError:
        return None
    return Context(plan=plan, result=result, maps=maps, items=list(plan.items.all()))


def step_errors(plan: MigrationPlan, ctx: Context | None, step: str) -> list[str]:
    """What keeps a step from being complete (review errors are computed by the submit module)."""
    if step == "source":
        if ctx is None or not ctx.items:
            return ["Add manifests with at least one KubeVirt VM."]
        return []
    if ctx is None:
        return ["Complete the Source step first."]
    if step == "vms":
        if not ctx.selected:
            return ["Select at least one VM."]
        return [
            f"{i.key} has {i.critical_count} Critical concern(s): deselect it or accept the risk."
            for i in ctx.selected
            if i.blocked
        ]
    if step == "network":
        return [
            f"Map the source network “{key}” (used by {', '.join(vms[:3])}) to one of the tenant's networks."
            for key, vms in ctx.needed_networks().items()
            if key not in ctx.maps.networks
        ]
    if step == "storage":
        errors = [
            f"Choose a Proxmox storage for “{key}” (used by {', '.join(vms[:3])})."
            for key, vms in ctx.needed_storage().items()
            if key not in ctx.maps.storage
        ]
        errors += [
            f"Choose a Proxmox template for the boot source “{key}” (used by {', '.join(vms[:3])})."
            for key, vms in ctx.needed_images().items()
            if key not in ctx.maps.templates
        ]
        return errors
    if step == "target":
        return target_errors(plan, ctx)
    return []


def target_errors(plan: MigrationPlan, ctx: Context) -> list[str]:
    errors = []
    names: dict[str, str] = {}
    for item in ctx.selected:
        name = item.target_name
        if not DNS_LABEL.match(name or ""):
            errors.append(f"{item.key}: “{name}” is not a valid name (lowercase letters, digits, dashes).")
        elif name in names:
            errors.append(f"{item.key} and {names[name]} would both be named “{name}”.")
        names.setdefault(name, item.key)
    target = plan.target or {}
    node = target.get("node") or ""
    allowed = plan.tenant.allowed_nodes or []
    if node and allowed and node not in allowed:
        errors.append(f"The tenant may not use node {node}; choose one of {', '.join(allowed)}.")
    if any(i.mode == MigrationItem.Mode.NODE_GROUP for i in ctx.selected):
        if not DNS_LABEL.match(target.get("cluster_name") or ""):
            errors.append("Name the capmox cluster the node groups belong to (a DNS label).")
        if not target.get("cluster_network"):
            errors.append("Choose the cluster's network.")
    return errors


def step_states(plan: MigrationPlan, ctx: Context | None) -> list[dict]:
    """Each step with its errors and whether it is locked because an earlier step has errors."""
    states, blocked = [], False
    for key, label in STEPS:
        errors = [] if key == "review" else step_errors(plan, ctx, key)
        states.append({"key": key, "label": label, "errors": errors, "locked": blocked, "done": not errors})
        blocked = blocked or bool(errors)
    return states


def first_open_step(states: list[dict]) -> str:
    return next((s["key"] for s in states if s["errors"]), "review")
