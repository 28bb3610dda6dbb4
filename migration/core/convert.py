"""Conversion entry point: documents + mappings -> ConversionResult."""

from __future__ import annotations

from dataclasses import dataclass

from .capmox import machine_template, proxmox_cluster, rewrite_capi_object, template_requirements
from .disks import plan_disks
from .errors import InputError
from .inventory import CAPK_KINDS, Inventory
from .loader import DEFAULT_LIMITS, Document, Limits, load_documents
from .mappings import Mappings
from .model import ClusterPlan, ConversionResult, MigrationPlan
from .qm import build_config, description_for, network_target
from .rules import RULES_VERSION, evaluate_cluster, evaluate_vm
from .vm import VmContext, sources_of


@dataclass
class ClusterSubject:
    """What cluster-scoped rules look at."""

    docs: list[Document]
    placeholder_ipam: bool


def _source_info(ctx: VmContext) -> dict:
    doc = ctx.source.doc
    info = {
        "kind": doc.kind,
        "apiVersion": doc.api_version,
        "name": doc.name,
        "namespace": doc.namespace,
        "file": doc.source,
        "document": doc.index + 1,
        "path": doc.path,
        "uid": doc.uid or None,
    }
    if ctx.source.replica is not None:
        info["replica"] = ctx.source.replica
    if ctx.instancetype_ref:
        info["instancetype"] = ctx.instancetype_ref.get("name")
    if ctx.preference_ref:
        info["preference"] = ctx.preference_ref.get("name")
    return info


def _nic_summary(ctx: VmContext, nic) -> dict:
    target, mapped = network_target(ctx, nic)
    return {
        "slot": f"net{nic.index}",
        "name": nic.name,
        "model": nic.model,
        "bridge": target.bridge,
        "vlan": target.vlan,
        "mapped": mapped,
    }


def convert_vm(ctx: VmContext) -> MigrationPlan:
    ctx.analyse()
    disks = plan_disks(ctx)
    config, cloud_init = build_config(ctx, disks, RULES_VERSION)
    description = description_for(ctx, RULES_VERSION)
    pmt = machine_template(ctx, disks, description)
    concerns = evaluate_vm(ctx)
    boot = next((d for d in disks if d.boot), None)
    counts = dict.fromkeys(("Critical", "Warning", "Information"), 0)
    for concern in concerns:
        counts[concern.category] += 1
    summary = {
        "vcpus": ctx.vcpus,
        "sockets": ctx.sockets,
        "cores": ctx.cores,
        "threads": ctx.threads,
        "memoryMiB": ctx.memory_mib,
        "capmoxMemoryMiB": pmt["spec"]["template"]["spec"]["memoryMiB"],
        "bootDisk": boot.slot if boot else None,
        "bootDiskGiB": boot.size_gib if boot else None,
        "disks": len(disks),
        "nics": [_nic_summary(ctx, nic) for nic in ctx.nics],
        "onboot": config["onboot"],
        "concerns": counts,
    }
    return MigrationPlan(
        namespace=ctx.source.namespace,
        name=ctx.source.name,
        source=_source_info(ctx),
        qm_config=config,
        cloud_init=cloud_init,
        capmox=[pmt],
        template_requirements=template_requirements(ctx, disks, config),
        concerns=concerns,
        disks=disks,
        summary=summary,
        source_doc=ctx.source.doc.body,
    )


def _cluster_plans(inventory: Inventory, mappings: Mappings, plans: list[MigrationPlan]) -> list[ClusterPlan]:
    """Group CAPI/CAPK objects per namespace and rewrite them for capmox."""
    groups: dict[str, list[Document]] = {}
    for doc in inventory.capi:
        groups.setdefault(doc.namespace, []).append(doc)
    templates = {
        (p.source["namespace"], p.source["name"]): p.capmox[0]
        for p in plans
        if p.source["kind"] == "KubevirtMachineTemplate"
    }
    result = []
    for namespace, docs in groups.items():
        if not any(d.kind in CAPK_KINDS for d in docs):
            continue
        objects: list[dict] = []
        placeholder = False
        for doc in docs:
            if doc.kind == "KubevirtCluster":
                cluster, used_placeholder = proxmox_cluster(doc, mappings)
                placeholder = placeholder or used_placeholder
                objects.append(cluster)
            elif doc.kind == "KubevirtMachineTemplate":
                objects.append(templates[(doc.namespace, doc.name)])
            elif doc.kind in CAPK_KINDS:
                continue  # KubevirtMachine objects are recreated by the controllers
            else:
                objects.append(rewrite_capi_object(doc))
        cluster_doc = next((d for d in docs if d.kind == "Cluster"), docs[0])
        subject = ClusterSubject(docs, placeholder)
        result.append(
            ClusterPlan(
                namespace=namespace,
                name=cluster_doc.name or "cluster",
                objects=objects,
                concerns=evaluate_cluster(subject),
                source={"file": cluster_doc.source, "document": cluster_doc.index + 1, "objects": len(docs)},
            )
        )
    return result


def _documents(text_or_docs: str | bytes | list[Document], limits: Limits) -> list[Document]:
    if isinstance(text_or_docs, str | bytes | bytearray):
        return load_documents(text_or_docs, limits)
    return list(text_or_docs)


def convert(
    text_or_docs: str | bytes | list[Document],
    mappings: Mappings | None = None,
    limits: Limits = DEFAULT_LIMITS,
    definitions: list[Document] | None = None,
) -> ConversionResult:
    """Convert every VM-like object of the input; raise InputError on invalid input."""
    mappings = mappings or Mappings()
    documents = _documents(text_or_docs, limits)
    inventory = Inventory(documents)
    if definitions:
        inventory.add_definitions(definitions)
    plans: list[MigrationPlan] = []
    for doc in inventory.vms:
        try:
            for source in sources_of(doc, limits.max_replicas):
                plans.append(convert_vm(VmContext(source, inventory, mappings)))
        except InputError as exc:
            if exc.document is None:
                raise doc.error(exc.message, exc.path) from None
            raise
        except (RecursionError, OverflowError, MemoryError):
            raise doc.error("document too large or too deeply nested to convert") from None
    clusters = _cluster_plans(inventory, mappings, plans)
    ignored = [
        {"kind": d.kind, "name": d.name, "namespace": d.namespace, "file": d.source, "document": d.index + 1}
        for d in inventory.ignored
    ]
    return ConversionResult(plans, clusters, ignored, RULES_VERSION)
