"""Resource types the fake server serves: built-in kinds plus kinds declared by CRDs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
STATUS_VERBS = ["get", "patch", "update"]


@dataclass
class ResourceType:
    """One served group/version/resource (a CRD with three served versions gives three of these)."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    has_status: bool = False
    has_generation: bool = True
    is_custom: bool = False
    # DELETE answers with the object instead of a Status (upstream ReturnDeletedObject, e.g. services).
    returns_deleted_object: bool = False
    storage: bool = True
    # openAPIV3Schema of this version (None: no validation, no pruning).
    schema: dict[str, Any] | None = None
    crd_name: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> tuple[str, str]:
        """Storage key: all versions of one resource share the same objects."""
        return (self.group, self.plural)

    def discovery_entries(self) -> list[dict[str, Any]]:
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ALL_VERBS,
        }
        if self.short_names:
            main["shortNames"] = self.short_names
        if self.categories:
            main["categories"] = self.categories
        entries = [main]
        if self.has_status:
            entries.append(
                {
                    "name": f"{self.plural}/status",
                    "singularName": "",
                    "namespaced": self.namespaced,
                    "kind": self.kind,
                    "verbs": STATUS_VERBS,
                }
            )
        return entries


def _core(version: str, kind: str, plural: str, namespaced: bool, **kw: Any) -> ResourceType:
    return ResourceType(
        group="",
        version=version,
        kind=kind,
        plural=plural,
        singular=kind.lower(),
        namespaced=namespaced,
        **kw,
    )


def builtin_types() -> list[ResourceType]:
    return [
        _core("v1", "Namespace", "namespaces", False, short_names=["ns"], has_status=True, has_generation=False),
        _core("v1", "Secret", "secrets", True, has_generation=False),
        _core("v1", "ConfigMap", "configmaps", True, short_names=["cm"], has_generation=False),
        _core(
            "v1",
            "Service",
            "services",
            True,
            short_names=["svc"],
            has_status=True,
            has_generation=False,
            returns_deleted_object=True,
        ),
        _core(
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            True,
            short_names=["pvc"],
            has_status=True,
            has_generation=False,
        ),
        ResourceType(
            group="apps",
            version="v1",
            kind="Deployment",
            plural="deployments",
            singular="deployment",
            namespaced=True,
            short_names=["deploy"],
            categories=["all"],
            has_status=True,
        ),
        ResourceType(
            group="apiextensions.k8s.io",
            version="v1",
            kind="CustomResourceDefinition",
            plural="customresourcedefinitions",
            singular="customresourcedefinition",
            namespaced=False,
            short_names=["crd", "crds"],
            has_status=True,
            returns_deleted_object=True,
        ),
    ]


_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key giving Kubernetes' version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > others."""
    match = _VERSION_RE.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)
