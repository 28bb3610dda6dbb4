"""KubeVirt -> Proxmox VE / capmox converter (pure Python, no Django).

Public API::

    from migration.core import convert, load_documents, Mappings, Limits, InputError
    from migration.core import render_markdown, render_json, render_yaml, RULES_VERSION

    docs = load_documents(text, Limits())          # safe YAML/JSON; List/Template unwrapped; server fields dropped
    result = convert(docs_or_text, Mappings.from_files(network=..., storage=..., templates=...))
    for plan in result.plans:                      # one MigrationPlan per VM (pools: one per replica)
        plan.qm_config      # dict of qm parameter names -> values (sockets, cores, memory, net0, sshkeys, ...)
        plan.cloud_init     # user/network data byte for byte (+ source) or None
        plan.capmox         # [ProxmoxMachineTemplate] (infrastructure.cluster.x-k8s.io/v1alpha2)
        plan.concerns       # [Concern(id, category Critical|Warning|Information, label, assessment, path)]
        plan.disks          # [DiskPlan(slot, size, target storage, format, ordered commands)]
        plan.source_doc     # the cleaned input document
        plan.to_dict()
    result.clusters         # CAPK clusters rewritten for capmox (ClusterPlan.objects)
    render_markdown(result); render_json(result)

``convert`` accepts text (str/bytes) or documents and raises only ``InputError`` (``.path``, ``.document``,
``.source``) for invalid or hostile input. Output is deterministic: the same input gives identical results.
Mapping file formats are documented in ``migration.core.mappings``; rules live in ``migration.core.rules``.
"""

from .convert import convert
from .errors import InputError
from .instancetypes import INSTANCETYPES, PREFERENCES
from .loader import DEFAULT_LIMITS, Document, Limits, load_documents
from .mappings import Mappings, load_map_file
from .model import ClusterPlan, Concern, ConversionResult, DiskPlan, MigrationPlan
from .report import render_json, render_markdown, render_summary_table, render_yaml
from .rules import RULES, RULES_VERSION

__all__ = [
    "DEFAULT_LIMITS",
    "INSTANCETYPES",
    "PREFERENCES",
    "RULES",
    "RULES_VERSION",
    "ClusterPlan",
    "Concern",
    "ConversionResult",
    "DiskPlan",
    "Document",
    "InputError",
    "Limits",
    "Mappings",
    "MigrationPlan",
    "convert",
    "load_documents",
    "load_map_file",
    "render_json",
    "render_markdown",
    "render_summary_table",
    "render_yaml",
]
