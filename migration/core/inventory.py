"""First pass over the input: index the objects VMs refer to and validate every KubeVirt object."""

from __future__ import annotations

import base64
import binascii

from .errors import InputError
from .instancetypes import INSTANCETYPES, PREFERENCES
from .loader import Document
from .schema import ROOTS, validate

VM_KINDS = ("VirtualMachine", "VirtualMachineInstance", "VirtualMachinePool", "KubevirtMachineTemplate")
CAPK_KINDS = {
    "KubevirtCluster": "ProxmoxCluster",
    "KubevirtClusterTemplate": "ProxmoxClusterTemplate",
    "KubevirtMachineTemplate": "ProxmoxMachineTemplate",
    "KubevirtMachine": "ProxmoxMachine",
}
_CLUSTER_API_SUFFIX = "cluster.x-k8s.io"
_INSTANCETYPE_KINDS = ("VirtualMachineInstancetype", "VirtualMachineClusterInstancetype")
_PREFERENCE_KINDS = ("VirtualMachinePreference", "VirtualMachineClusterPreference")


def validate_document(doc: Document) -> None:
    """Validate a KubeVirt/CDI object against the field whitelist; InputError carries the full path."""
    kind = doc.kind
    try:
        if kind == "KubevirtMachineTemplate":
            vm_template = _dig(doc.body, ("spec", "template", "spec", "virtualMachineTemplate"))
            if not isinstance(vm_template, dict):
                raise InputError("required field is missing", "spec.template.spec.virtualMachineTemplate")
            base = "spec.template.spec.virtualMachineTemplate"
            if vm_template.get("metadata") is not None:
                validate(vm_template["metadata"], "meta.ObjectMeta", f"{base}.metadata")
            if vm_template.get("spec") is None:
                raise InputError("required field is missing", f"{base}.spec")
            validate(vm_template["spec"], "v1.VirtualMachineSpec", f"{base}.spec")
            return
        root = ROOTS.get(kind)
        if root is not None:
            validate(doc.body, root)
    except InputError as exc:
        raise doc.error(exc.message, exc.path) from None


def _dig(obj: object, keys: tuple[str, ...]) -> object:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def secret_values(doc: Document | None) -> dict[str, str | bytes]:
    """Decoded values of a Secret (``stringData`` wins over ``data``) or ConfigMap."""
    if doc is None:
        return {}
    values: dict[str, str | bytes] = {}
    data = doc.body.get("data")
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(value, str):
                continue
            if doc.kind == "ConfigMap":
                values[str(key)] = value
                continue
            try:
                raw = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise doc.error("invalid base64 in Secret data", f"data.{key}") from None
            try:
                values[str(key)] = raw.decode("utf-8")
            except UnicodeDecodeError:
                values[str(key)] = raw
    string_data = doc.body.get("stringData")
    if isinstance(string_data, dict):
        for key, value in string_data.items():
            if isinstance(value, str):
                values[str(key)] = value
    return values


class Inventory:
    """Objects of the input by (kind, namespace, name); lookups fall back to "no namespace given"."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.vms: list[Document] = []
        self.capi: list[Document] = []
        self.ignored: list[Document] = []
        self._objects: dict[tuple[str, str, str], Document] = {}
        self._by_name: dict[tuple[str, str], Document] = {}
        self.custom_instancetypes: dict[tuple[str, str, str], dict] = {}
        self.custom_preferences: dict[tuple[str, str, str], dict] = {}
        for doc in documents:
            self._index(doc)

    def _index(self, doc: Document) -> None:
        kind = doc.kind
        group = doc.api_version.split("/")[0] if "/" in doc.api_version else ""
        if kind in ROOTS and group and not group.endswith("kubevirt.io"):
            self.ignored.append(doc)  # same kind name, different API (not KubeVirt)
            return
        if kind in ROOTS or kind == "KubevirtMachineTemplate":
            validate_document(doc)
        if kind in VM_KINDS:
            self.vms.append(doc)
        if kind in CAPK_KINDS or (doc.api_version.split("/")[0].endswith(_CLUSTER_API_SUFFIX)):
            self.capi.append(doc)
        elif kind not in VM_KINDS and kind not in (
            "Secret",
            "ConfigMap",
            "PersistentVolumeClaim",
            "DataVolume",
            *_INSTANCETYPE_KINDS,
            *_PREFERENCE_KINDS,
        ):
            self.ignored.append(doc)
        if kind in _INSTANCETYPE_KINDS or kind in _PREFERENCE_KINDS:
            scope = "cluster" if "Cluster" in kind else "namespaced"
            table = self.custom_instancetypes if kind in _INSTANCETYPE_KINDS else self.custom_preferences
            namespace = doc.namespace if scope == "namespaced" else ""
            table[(scope, namespace, doc.name)] = doc.body.get("spec") or {}
        self._objects.setdefault((kind, doc.namespace, doc.name), doc)
        self._by_name.setdefault((kind, doc.name), doc)

    def get(self, kind: str, namespace: str, name: str) -> Document | None:
        found = self._objects.get((kind, namespace, name))
        if found is None and namespace:
            found = self._objects.get((kind, "", name))
        if found is None and not namespace:
            found = self._by_name.get((kind, name))
        return found

    def instancetype(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._definition(self.custom_instancetypes, INSTANCETYPES, kind, namespace, name)

    def preference(self, kind: str, namespace: str, name: str) -> dict | None:
        return self._definition(self.custom_preferences, PREFERENCES, kind, namespace, name)

    @staticmethod
    def _definition(custom: dict, builtin: dict, kind: str, namespace: str, name: str) -> dict | None:
        if kind.startswith("VirtualMachineCluster"):
            return custom.get(("cluster", "", name)) or builtin.get(name)
        return custom.get(("namespaced", namespace, name)) or custom.get(("namespaced", "", name))

    def add_definitions(self, documents: list[Document]) -> None:
        """Merge instancetype/preference definitions from a separate file."""
        for doc in documents:
            if doc.kind in _INSTANCETYPE_KINDS or doc.kind in _PREFERENCE_KINDS:
                self._index(doc)
