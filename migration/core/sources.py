"""Where VM specs sit inside input documents (VM, VMI, pool replicas, CAPK machine templates)."""

from __future__ import annotations

from dataclasses import dataclass

from .loader import Document


@dataclass
class Source:
    """Where a VM spec sits inside an input document."""

    doc: Document
    vm_spec: dict | None  # VirtualMachineSpec (None for a bare VMI)
    vm_path: str  # path of the VirtualMachineSpec ("" for a VMI)
    vmi: dict  # VirtualMachineInstanceSpec
    vmi_path: str
    metadata: dict  # metadata of the VM-level object
    template_metadata: dict  # metadata of the VMI template
    name: str
    namespace: str
    replica: int | None = None
    cluster_worker: bool = False


def _at(prefix: str, path: str) -> str:
    return f"{prefix}.{path}" if prefix else path


def sources_of(doc: Document, limits_replicas: int) -> list[Source]:
    """The VM specs a document describes (a pool yields one per replica)."""
    body = doc.body
    prefix = doc.path
    kind = doc.kind
    meta = doc.metadata
    spec = body.get("spec") or {}
    name = doc.name or "unnamed"
    namespace = doc.namespace
    if kind == "VirtualMachineInstance":
        return [Source(doc, None, "", spec, _at(prefix, "spec"), meta, meta, name, namespace)]
    if kind == "VirtualMachine":
        template = spec.get("template") or {}
        return [
            Source(
                doc,
                spec,
                _at(prefix, "spec"),
                template.get("spec") or {},
                _at(prefix, "spec.template.spec"),
                meta,
                template.get("metadata") or {},
                name,
                namespace,
            )
        ]
    if kind == "VirtualMachinePool":
        vm_template = spec.get("virtualMachineTemplate") or {}
        vm_spec = vm_template.get("spec") or {}
        template = vm_spec.get("template") or {}
        replicas = spec.get("replicas")
        replicas = 1 if replicas is None else replicas
        if replicas > limits_replicas:
            raise doc.error(f"replicas {replicas} over the limit of {limits_replicas}", "spec.replicas")
        base = _at(prefix, "spec.virtualMachineTemplate.spec")
        return [
            Source(
                doc,
                vm_spec,
                base,
                template.get("spec") or {},
                f"{base}.template.spec",
                vm_template.get("metadata") or meta,
                template.get("metadata") or {},
                f"{name}-{i}",
                namespace,
                replica=i,
            )
            for i in range(max(replicas, 0))
        ]
    if kind == "KubevirtMachineTemplate":
        vm_template = spec["template"]["spec"]["virtualMachineTemplate"]
        vm_spec = vm_template.get("spec") or {}
        template = vm_spec.get("template") or {}
        base = _at(prefix, "spec.template.spec.virtualMachineTemplate.spec")
        return [
            Source(
                doc,
                vm_spec,
                base,
                template.get("spec") or {},
                f"{base}.template.spec",
                meta,
                template.get("metadata") or {},
                name,
                namespace,
                cluster_worker=True,
            )
        ]
    return []
