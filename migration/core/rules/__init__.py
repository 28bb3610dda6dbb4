"""Concern rules: one module per rule, each exporting ``RULE``.

A rule reads the analysed VM (``VmContext``) and returns findings ``(assessment, path)``; the engine turns
them into ``Concern`` objects with the rule's id, category and label. ``RULES_VERSION`` changes whenever a
rule is added, removed or changes meaning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model import CATEGORIES, Concern

RULES_VERSION = "2026.11.1"


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    label: str
    check: Callable[..., list[tuple[str, str]]]
    scope: str = "vm"  # vm | cluster

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: bad category {self.category}")

    def evaluate(self, subject: object) -> list[Concern]:
        return [Concern(self.id, self.category, self.label, text, path) for text, path in self.check(subject)]


def _load() -> tuple[Rule, ...]:
    from . import (
        architecture,
        broken_reference,
        capi_contract,
        capmox_standalone,
        cloudinit_nic_names,
        cluster_ipam,
        dedicated_cpu,
        disk_size_unknown,
        efi_tpm_state,
        ephemeral_root,
        extra_disks,
        gpu,
        guest_agent_credentials,
        hook_sidecar,
        host_devices,
        hugepages,
        live_migration,
        machine_type,
        missing_secret,
        multus_unmapped,
        nic_model_capmox,
        numa,
        pinned_mac,
        placement,
        pod_network,
        pool_replicas,
        realtime,
        secure_boot,
        sriov,
        storage_unmapped,
        template_unmapped,
        unresolved_definition,
        unsupported_volume,
        virtiofs,
        watchdog,
        windows,
    )

    modules = (
        unresolved_definition,
        broken_reference,
        architecture,
        gpu,
        host_devices,
        sriov,
        dedicated_cpu,
        numa,
        hugepages,
        realtime,
        pod_network,
        multus_unmapped,
        pinned_mac,
        nic_model_capmox,
        cloudinit_nic_names,
        missing_secret,
        guest_agent_credentials,
        ephemeral_root,
        template_unmapped,
        extra_disks,
        disk_size_unknown,
        storage_unmapped,
        unsupported_volume,
        virtiofs,
        efi_tpm_state,
        secure_boot,
        machine_type,
        windows,
        live_migration,
        placement,
        hook_sidecar,
        watchdog,
        pool_replicas,
        capmox_standalone,
        cluster_ipam,
        capi_contract,
    )
    return tuple(m.RULE for m in modules)


RULES: tuple[Rule, ...] = _load()
VM_RULES = tuple(r for r in RULES if r.scope == "vm")
CLUSTER_RULES = tuple(r for r in RULES if r.scope == "cluster")


def evaluate_vm(ctx: object) -> list[Concern]:
    concerns: list[Concern] = []
    for rule in VM_RULES:
        concerns.extend(rule.evaluate(ctx))
    return concerns


def evaluate_cluster(subject: object) -> list[Concern]:
    concerns: list[Concern] = []
    for rule in CLUSTER_RULES:
        concerns.extend(rule.evaluate(subject))
    return concerns
