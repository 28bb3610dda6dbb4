"""The in-memory object store: CRUD, patch and server-side apply semantics of kube-apiserver."""

from __future__ import annotations

import base64
import copy
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import errors, fields, kinds, meta, patching, schema
from .crds import crd_resource_types
from .resources import ResourceType, builtin_types, version_priority
from .selectors import field_matcher, label_matcher

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
NAMESPACES_KEY = ("", "namespaces")
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public")
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
CUSTOM_PATCH_TYPES = [JSON_PATCH, MERGE, APPLY]
BUILTIN_PATCH_TYPES = [JSON_PATCH, MERGE, STRATEGIC, APPLY]


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class WriteOptions:
    """Query parameters of a write request."""

    manager: str = ""
    manager_given: bool = True  # False: derived from the User-Agent, which apply does not accept
    dry_run: bool = False
    force: bool = False
    strict: bool = False  # fieldValidation=Strict: unknown fields are an error, not a warning
    warnings: list[str] = field(default_factory=list)


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.resource_version = 0
        self.types: dict[tuple[str, str], dict[str, ResourceType]] = {}
        self.objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._next_cluster_ip = 10
        self.record_events = False  # switched on by FakeKubeAPI.add_hook
        self._events: list[tuple[str, dict[str, Any]]] = []
        for rtype in builtin_types():
            self._register(rtype)
        for name in DEFAULT_NAMESPACES:
            self.create(
                self.resolve("", "v1", "namespaces"),
                None,
                {"metadata": {"name": name}},
                WriteOptions("devstack"),
            )

    def _emit(self, event: str, rtype: ResourceType, obj: dict[str, Any]) -> None:
        if self.record_events:
            self._events.append((event, self._present(rtype, obj)))

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events ("ADDED" / "MODIFIED" / "DELETED", object) recorded since the last call."""
        with self.lock:
            events, self._events = self._events, []
            return events

    # ---- registry -------------------------------------------------------------------------------------

    def _register(self, rtype: ResourceType) -> None:
        self.types.setdefault((rtype.group, rtype.version), {})[rtype.plural] = rtype
        self.objects.setdefault(rtype.group_resource, {})

    def resolve(self, group: str, version: str, plural: str) -> ResourceType:
        rtype = self.types.get((group, version), {}).get(plural)
        if rtype is None:
            raise errors.path_not_found()
        return rtype

    def find_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rtype in self.types.get((group, version), {}).values():
            if rtype.kind == kind:
                return rtype
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """Group name -> served versions, preferred first (Kubernetes version priority)."""
        groups: dict[str, set[str]] = {}
        for group, version in self.types:
            if self.types[(group, version)]:
                groups.setdefault(group, set()).add(version)
        return {g: sorted(v, key=version_priority) for g, v in sorted(groups.items())}

    def resources_in(self, group: str, version: str) -> list[ResourceType] | None:
        found = self.types.get((group, version))
        return sorted(found.values(), key=lambda t: t.plural) if found else None

    def register_crd(self, crd: dict[str, Any], opts: WriteOptions | None = None) -> dict[str, Any]:
        """Create or replace a CRD object and serve its versions."""
        opts = opts or WriteOptions(manager="devstack")
        crd_resource_types(crd)  # raises CRDError early for malformed input
        crd_type = self.resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        with self.lock:
            name = crd["metadata"]["name"]
            existing = self.objects[CRD_KEY].get(("", name))
            if existing is None:
                return self.create(crd_type, None, crd, opts)
            body = copy.deepcopy(crd)
            body.setdefault("metadata", {})["resourceVersion"] = existing["metadata"]["resourceVersion"]
            return self.replace(crd_type, None, name, body, opts)

    def install_crd(self, crd: dict[str, Any]) -> dict[str, Any]:
        """Fast path for start-up CRDs: no copy of the (large, shared, read-only) spec, no managedFields.

        Stored objects are never mutated in place (every write builds a new dict), so sharing is safe.
        """
        crd_types = crd_resource_types(crd)
        name = crd["metadata"]["name"]
        with self.lock:
            if ("", name) in self.objects[CRD_KEY]:
                return self.register_crd(copy.deepcopy(crd))
            self.resource_version += 1
            stored = {key: value for key, value in crd.items() if key not in ("metadata", "status")}
            stored["metadata"] = {
                "name": name,
                "uid": str(uuid.uuid4()),
                "resourceVersion": str(self.resource_version),
                "generation": 1,
                "creationTimestamp": now(),
            }
            self._defaults_for_kind(self.resolve("apiextensions.k8s.io", "v1", "customresourcedefinitions"), stored)
            self.objects[CRD_KEY][("", name)] = stored
            for rtype in crd_types:
                self._register(rtype)
            return stored

    def _unregister_crd(self, crd_name: str, drop_objects: bool) -> None:
        for (group, version), by_plural in list(self.types.items()):
            for plural, rtype in list(by_plural.items()):
                if rtype.crd_name == crd_name:
                    del by_plural[plural]
                    if drop_objects:
                        self.objects.pop(rtype.group_resource, None)
            if not by_plural:
                del self.types[(group, version)]

    # ---- reads ----------------------------------------------------------------------------------------

    def _present(self, rtype: ResourceType, obj: dict[str, Any], in_list: bool = False) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        if in_list and not rtype.is_custom:
            out.pop("apiVersion", None)  # typed lists of built-ins carry no apiVersion/kind per item
            out.pop("kind", None)
        else:
            out["apiVersion"] = rtype.api_version
            out["kind"] = rtype.kind
        return out

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict[str, Any]]:
        return self.objects.setdefault(rtype.group_resource, {})

    def _key(self, rtype: ResourceType, namespace: str | None, name: str) -> tuple[str, str]:
        return ((namespace or "") if rtype.namespaced else "", name)

    def _existing(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._bucket(rtype).get(self._key(rtype, namespace, name))
        if obj is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return obj

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        with self.lock:
            return self._present(rtype, self._existing(rtype, namespace, name))

    def list(
        self,
        rtype: ResourceType,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        by_label = label_matcher(label_selector)
        by_field = field_matcher(field_selector, rtype.group, rtype.plural)
        start_after: tuple[str, str] | None = None
        if continue_token:
            try:
                decoded = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start_after = (decoded["ns"], decoded["name"])
            except (ValueError, KeyError, TypeError):
                raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion") from None
        with self.lock:
            selected = [
                (key, obj)
                for key, obj in sorted(self._bucket(rtype).items())
                if (namespace is None or key[0] == namespace)
                and (start_after is None or key > start_after)
                and by_label(obj)
                and by_field(obj)
            ]
            list_meta: dict[str, Any] = {"resourceVersion": str(self.resource_version)}
            if limit and limit > 0 and len(selected) > limit:
                last_key = selected[limit - 1][0]
                token = json.dumps({"ns": last_key[0], "name": last_key[1]}).encode()
                list_meta["continue"] = base64.urlsafe_b64encode(token).decode()
                list_meta["remainingItemCount"] = len(selected) - limit
                selected = selected[:limit]
            return {
                "apiVersion": rtype.api_version,
                "kind": f"{rtype.kind}List",
                "metadata": list_meta,
                "items": [self._present(rtype, obj, in_list=True) for _, obj in selected],
            }

    # ---- writes ---------------------------------------------------------------------------------------

    def _check_namespace(self, rtype: ResourceType, namespace: str | None, name: str) -> None:
        if not rtype.namespaced:
            return
        ns_obj = self.objects[NAMESPACES_KEY].get(("", namespace or ""))
        if ns_obj is None:
            raise errors.not_found("namespaces", "", namespace or "")
        if ns_obj["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                f'{errors.qualified(rtype.plural, rtype.group)} "{name}" is forbidden: unable to create new '
                f"content in namespace {namespace} because it is being terminated",
                rtype.plural,
                rtype.group,
                name,
            )

    def _check_identity(self, rtype: ResourceType, namespace: str | None, body: dict[str, Any]) -> None:
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        kind = body.get("kind")
        if kind and kind != rtype.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})")
        body_ns = (body.get("metadata") or {}).get("namespace")
        if rtype.namespaced and body_ns and namespace and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )

    def _candidate(
        self,
        rtype: ResourceType,
        namespace: str | None,
        body: dict[str, Any],
        old: dict[str, Any] | None,
        subresource: str,
    ) -> dict[str, Any]:
        """The object to store: user content from ``body``, system metadata (maybe status) from ``old``."""
        if subresource == "status":
            candidate = copy.deepcopy(old)
            if "status" in body:
                candidate["status"] = copy.deepcopy(body["status"])
            else:
                candidate.pop("status", None)
            return candidate
        candidate = {k: copy.deepcopy(v) for k, v in body.items() if k != "metadata"}
        candidate["apiVersion"] = rtype.api_version
        candidate["kind"] = rtype.kind
        body_meta = body.get("metadata") or {}
        new_meta = {k: copy.deepcopy(body_meta[k]) for k in meta.USER_META_KEYS if body_meta.get(k) is not None}
        if rtype.namespaced:
            new_meta["namespace"] = namespace
        else:
            new_meta.pop("namespace", None)
        if old is not None:
            for key in meta.SYSTEM_META_KEYS:
                if key in old["metadata"]:
                    new_meta[key] = copy.deepcopy(old["metadata"][key])
            new_meta["name"] = old["metadata"]["name"]
            new_meta.pop("generateName", None)
            if "generateName" in old["metadata"]:
                new_meta["generateName"] = old["metadata"]["generateName"]
        candidate["metadata"] = new_meta
        if rtype.has_status:
            if old is not None and "status" in old:
                candidate["status"] = copy.deepcopy(old["status"])
            else:
                candidate.pop("status", None)
        return candidate

    def _defaults_for_kind(self, rtype: ResourceType, obj: dict[str, Any]) -> None:
        kinds.apply_defaults(rtype, obj, self._allocate_cluster_ip)

    def _allocate_cluster_ip(self) -> str:
        self._next_cluster_ip += 1
        return f"10.96.{self._next_cluster_ip // 250}.{self._next_cluster_ip % 250 + 1}"

    def _validate(self, rtype: ResourceType, obj: dict[str, Any], opts: WriteOptions) -> None:
        name = obj["metadata"].get("name", "")
        if rtype.is_custom:
            dropped = schema.prune_and_default(obj, rtype.schema)
            if dropped and opts.strict:
                raise errors.bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in dropped)
                )
            opts.warnings += [f'unknown field "{path}"' for path in dropped]
        causes = meta.validate_meta(obj["metadata"], label_only_name=rtype.group_resource == NAMESPACES_KEY)
        if rtype.is_custom:
            causes += schema.validate(obj, rtype.schema)
        if causes:
            raise errors.invalid(rtype.kind, rtype.group, name, causes)

    def _spec_changed(self, rtype: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> bool:
        skip = {"apiVersion", "kind", "metadata", "status"} if rtype.has_status else {"apiVersion", "kind", "metadata"}
        return {k: v for k, v in old.items() if k not in skip} != {k: v for k, v in new.items() if k not in skip}

    def _commit(
        self,
        rtype: ResourceType,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        opts: WriteOptions,
        subresource: str,
        entries: list[fields.ManagerEntry] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Finish a write: managedFields, no-op detection, generation, resourceVersion, finalizers.

        Returns (stored object, changed). ``entries`` is given by apply, which computes ownership itself.
        """
        self._defaults_for_kind(rtype, new)
        if old is not None:
            kinds.validate_update(rtype, old, new)
        self._validate(rtype, new, opts)
        view_old = fields.tracked_view(old or {}, subresource, rtype.has_status)
        view_new = fields.tracked_view(new, subresource, rtype.has_status)
        if entries is None:
            entries = fields.record_update(
                fields.decode_entries((old or {}).get("metadata", {}).get("managedFields")),
                view_old,
                view_new,
                opts.manager,
                rtype.api_version,
                subresource,
                now(),
                schema=rtype.schema,
            )
        managed = fields.entries_to_list(entries)
        new["metadata"].pop("managedFields", None)
        if old is not None:
            old_managed = old["metadata"].get("managedFields") or []
            comparable_old = {k: v for k, v in old.items() if k != "apiVersion"}
            comparable_new = {k: v for k, v in new.items() if k != "apiVersion"}
            comparable_old = copy.deepcopy(comparable_old)
            comparable_old["metadata"].pop("managedFields", None)
            comparable_new["metadata"] = dict(comparable_new["metadata"])
            if comparable_old == comparable_new and fields.same_ownership(old_managed, managed):
                return old, False
        if managed:
            new["metadata"]["managedFields"] = managed
        if old is not None and old["metadata"].get("deletionTimestamp"):
            added = set(new["metadata"].get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    new["metadata"]["name"],
                    [
                        {
                            "reason": "FieldValueForbidden",
                            "field": "metadata.finalizers",
                            "message": "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers {sorted(added)!r}",
                        }
                    ],
                )
        if rtype.has_generation:
            previous = (old or {}).get("metadata", {}).get("generation", 0)
            bump = old is None or self._spec_changed(rtype, old, new)
            new["metadata"]["generation"] = previous + 1 if bump else previous
        else:
            new["metadata"].pop("generation", None)
        if old is None:
            new["metadata"]["uid"] = str(uuid.uuid4())
            new["metadata"]["creationTimestamp"] = now()
        key = self._key(rtype, new["metadata"].get("namespace"), new["metadata"]["name"])
        if opts.dry_run:
            new["metadata"]["resourceVersion"] = (old or {}).get("metadata", {}).get("resourceVersion", "")
            return new, True
        self.resource_version += 1
        new["metadata"]["resourceVersion"] = str(self.resource_version)
        bucket = self._bucket(rtype)
        if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
            bucket.pop(key, None)  # the last finalizer is gone: the object disappears
            self._after_removal(rtype, new)
        else:
            bucket[key] = new
            self._emit("ADDED" if old is None else "MODIFIED", rtype, new)
            if rtype.group_resource == CRD_KEY:
                self._unregister_crd(new["metadata"]["name"], drop_objects=False)
                for served in crd_resource_types(new):
                    self._register(served)
        return new, True

    def create(
        self, rtype: ResourceType, namespace: str | None, body: dict[str, Any], opts: WriteOptions
    ) -> dict[str, Any]:
        self._check_identity(rtype, namespace, body)
        with self.lock:
            candidate = self._candidate(rtype, namespace, body, None, "")
            name = candidate["metadata"].get("name")
            if not name and candidate["metadata"].get("generateName"):
                name = candidate["metadata"]["generateName"] + uuid.uuid4().hex[:5]
                candidate["metadata"]["name"] = name
            self._check_namespace(rtype, namespace, name or "")
            if name and self._key(rtype, namespace, name) in self._bucket(rtype):
                raise errors.already_exists(rtype.plural, rtype.group, name)
            stored, _ = self._commit(rtype, None, candidate, opts, "")
            return self._present(rtype, stored)

    def _check_resource_version(self, rtype: ResourceType, old: dict[str, Any], body: dict[str, Any]) -> None:
        wanted = (body.get("metadata") or {}).get("resourceVersion")
        if wanted and wanted != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rtype.plural, rtype.group, old["metadata"]["name"])

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        opts: WriteOptions,
        subresource: str = "",
    ) -> dict[str, Any]:
        self._check_identity(rtype, namespace, body)
        body_name = (body.get("metadata") or {}).get("name")
        if body_name and body_name != name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        with self.lock:
            old = self._existing(rtype, namespace, name)
            if rtype.is_custom and not (body.get("metadata") or {}).get("resourceVersion"):
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "field": "metadata.resourceVersion",
                            "message": "Invalid value: 0x0: must be specified for an update",
                        }
                    ],
                )
            self._check_resource_version(rtype, old, body)
            body = copy.deepcopy(body)
            body.setdefault("metadata", {})["name"] = name
            candidate = self._candidate(rtype, namespace, body, old, subresource)
            stored, _ = self._commit(rtype, old, candidate, opts, subresource)
            return self._present(rtype, stored)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        patch_body: Any,
        content_type: str,
        opts: WriteOptions,
        subresource: str = "",
    ) -> tuple[dict[str, Any], bool]:
        """Returns (object, created). Only server-side apply may create."""
        accepted = CUSTOM_PATCH_TYPES if rtype.is_custom else BUILTIN_PATCH_TYPES
        if content_type not in accepted:
            raise errors.unsupported_media_type(content_type, accepted)
        if content_type == APPLY:
            return self._apply(rtype, namespace, name, patch_body, opts, subresource)
        with self.lock:
            old = self._existing(rtype, namespace, name)
            current = self._present(rtype, old)
            if content_type == JSON_PATCH:
                patched = patching.json_patch(current, patch_body)
            else:
                if not isinstance(patch_body, dict):
                    raise errors.bad_request("a merge patch must be a JSON object")
                merge = patching.merge_patch if content_type == MERGE else patching.strategic_merge_patch
                patched = merge(current, patch_body)
            if not isinstance(patched, dict):
                raise errors.bad_request("the patched object must be a JSON object")
            self._check_resource_version(rtype, old, patched)  # a patch may carry a resourceVersion precondition
            patched_meta = patched.get("metadata") or {}
            if patched_meta.get("name") not in (None, name):
                raise errors.bad_request("metadata.name cannot be changed by a patch")
            candidate = self._candidate(rtype, namespace, patched, old, subresource)
            stored, _ = self._commit(rtype, old, candidate, opts, subresource)
            return self._present(rtype, stored), False

    def _apply(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        applied: Any,
        opts: WriteOptions,
        subresource: str,
    ) -> tuple[dict[str, Any], bool]:
        if not opts.manager or not opts.manager_given:
            raise errors.ApiError(
                400,
                "BadRequest",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            )
        if not isinstance(applied, dict):
            raise errors.bad_request("the applied configuration must be an object")
        if not applied.get("apiVersion") or not applied.get("kind"):
            raise errors.bad_request("invalid object type: apiVersion and kind must be set in an applied configuration")
        if applied["apiVersion"] != rtype.api_version:
            raise errors.bad_request(
                f"the API version in the data ({applied['apiVersion']}) does not match the expected API "
                f"version ({rtype.api_version})"
            )
        self._check_identity(rtype, namespace, applied)
        applied_name = (applied.get("metadata") or {}).get("name")
        if applied_name and applied_name != name:
            raise errors.bad_request(
                f"the name of the object ({applied_name}) does not match the name on the URL ({name})"
            )
        with self.lock:
            old = self._bucket(rtype).get(self._key(rtype, namespace, name))
            if old is None:
                if subresource:
                    raise errors.not_found(rtype.plural, rtype.group, name)
                self._check_namespace(rtype, namespace, name)
            else:
                self._check_resource_version(rtype, old, applied)
            applied = copy.deepcopy(applied)
            applied.setdefault("metadata", {})["name"] = name
            # Prune the applied config like a write so that ownership covers only storable fields. Defaults are
            # added later to the merged object: the applier does not own them (as upstream).
            applied_obj = self._candidate(rtype, namespace, applied, None, "")
            if subresource == "status":
                applied_obj["status"] = copy.deepcopy(applied.get("status", {}))
            if rtype.is_custom:
                dropped = schema.prune_and_default(applied_obj, rtype.schema, defaults=False)
                if dropped and opts.strict:
                    raise errors.bad_request(
                        "strict decoding error: " + ", ".join(f'unknown field "{path}"' for path in dropped)
                    )
                opts.warnings += [f'unknown field "{path}"' for path in dropped]
            if old is not None:
                base = copy.deepcopy(old)
            else:
                base = {"apiVersion": rtype.api_version, "kind": rtype.kind, "metadata": {"name": name}}
                if rtype.namespaced:
                    base["metadata"]["namespace"] = namespace
            live_view = fields.tracked_view(base, subresource, rtype.has_status)
            applied_view = fields.tracked_view(applied_obj, subresource, rtype.has_status)
            entries = fields.decode_entries(base["metadata"].get("managedFields"))
            merged_view, entries, conflicts = fields.apply(
                live_view,
                applied_view,
                entries,
                opts.manager,
                rtype.api_version,
                subresource,
                opts.force,
                now(),
                schema=rtype.schema,
            )
            if conflicts:
                raise errors.apply_conflict(rtype.plural, rtype.group, name, conflicts)
            candidate = fields.merge_view(base, merged_view, subresource, rtype.has_status)
            candidate["apiVersion"] = rtype.api_version
            stored, _ = self._commit(rtype, old, candidate, opts, subresource, entries=entries)
            return self._present(rtype, stored), old is None

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        options: dict[str, Any] | None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        options = options or {}
        with self.lock:
            old = self._existing(rtype, namespace, name)
            preconditions = options.get("preconditions") or {}
            if preconditions.get("uid") and preconditions["uid"] != old["metadata"]["uid"]:
                raise errors.conflict(
                    rtype.plural,
                    rtype.group,
                    name,
                    f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                    f"UID in object meta: {old['metadata']['uid']}",
                )
            wanted_rv = preconditions.get("resourceVersion")
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise errors.conflict(
                    rtype.plural,
                    rtype.group,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: {wanted_rv}, "
                    f"ResourceVersion in object meta: {old['metadata']['resourceVersion']}",
                )
            key = self._key(rtype, namespace, name)
            blocked = bool(old["metadata"].get("finalizers")) or rtype.group_resource == NAMESPACES_KEY
            if blocked:
                if old["metadata"].get("deletionTimestamp"):
                    return self._present(rtype, old)
                marked = copy.deepcopy(old)
                marked["metadata"]["deletionTimestamp"] = now()
                marked["metadata"]["deletionGracePeriodSeconds"] = 0
                if rtype.group_resource == NAMESPACES_KEY:
                    marked["status"] = {"phase": "Terminating"}
                if dry_run:
                    return self._present(rtype, marked)
                self.resource_version += 1
                marked["metadata"]["resourceVersion"] = str(self.resource_version)
                self._bucket(rtype)[key] = marked
                self._emit("MODIFIED", rtype, marked)
                if rtype.group_resource == NAMESPACES_KEY:
                    self._empty_namespace(name)
                    self._maybe_finish_namespace(name)
                    if key not in self._bucket(rtype):
                        return self._present(rtype, marked)
                return self._present(rtype, self._bucket(rtype)[key])
            if dry_run:
                return self._present(rtype, old)
            del self._bucket(rtype)[key]
            self.resource_version += 1
            self._after_removal(rtype, old, cascade=options.get("propagationPolicy") != "Orphan")
            if rtype.returns_deleted_object:
                return self._present(rtype, old)
            return errors.success_status(rtype.plural, rtype.group, name, old["metadata"]["uid"])

    def _after_removal(self, rtype: ResourceType, obj: dict[str, Any], cascade: bool = True) -> None:
        self._emit("DELETED", rtype, obj)
        if rtype.group_resource == CRD_KEY:
            self._unregister_crd(obj["metadata"]["name"], drop_objects=True)
        namespace = obj["metadata"].get("namespace")
        if cascade and obj["metadata"].get("uid"):
            self._collect_garbage(obj["metadata"]["uid"], namespace if rtype.namespaced else None)
        if rtype.namespaced and namespace:
            self._maybe_finish_namespace(namespace)

    def _collect_garbage(self, owner_uid: str, namespace: str | None) -> None:
        """Background-propagation GC, done synchronously: delete dependents whose owners are all gone."""
        live_uids = {o["metadata"].get("uid") for bucket in self.objects.values() for o in bucket.values()}
        for (group, plural), bucket in list(self.objects.items()):
            for key, obj in list(bucket.items()):
                refs = obj["metadata"].get("ownerReferences") or []
                if not any(ref.get("uid") == owner_uid for ref in refs):
                    continue
                if namespace is not None and key[0] != namespace:
                    continue  # a namespaced owner only owns objects in its own namespace
                if any(ref.get("uid") in live_uids for ref in refs if ref.get("uid") != owner_uid):
                    continue
                rtype = self._any_type(group, plural)
                if rtype is not None and key in bucket:
                    self.delete(rtype, key[0] or None, key[1], None)

    def _empty_namespace(self, namespace: str) -> None:
        """Delete everything in a terminating namespace (objects with finalizers only get marked)."""
        for (group, plural), bucket in list(self.objects.items()):
            for key in [k for k in bucket if k[0] == namespace and k[0]]:
                rtype = self._any_type(group, plural)
                if rtype is not None and key in bucket:  # may be gone already through owner cascade
                    self.delete(rtype, namespace, key[1], None)

    def _any_type(self, group: str, plural: str) -> ResourceType | None:
        for (type_group, _), by_plural in self.types.items():
            if type_group == group and plural in by_plural:
                return by_plural[plural]
        return None

    def _maybe_finish_namespace(self, namespace: str) -> None:
        ns_obj = self.objects[NAMESPACES_KEY].get(("", namespace))
        if ns_obj is None or not ns_obj["metadata"].get("deletionTimestamp"):
            return
        if any(key[0] == namespace for bucket in self.objects.values() for key in bucket):
            return
        removed = self.objects[NAMESPACES_KEY].pop(("", namespace))
        self.resource_version += 1
        self._emit("DELETED", self.resolve("", "v1", "namespaces"), removed)

    # ---- seeding (tests, demo) ------------------------------------------------------------------------

    def seed(self, rtype: ResourceType, obj: dict[str, Any], create_namespace: bool = True) -> dict[str, Any]:
        """Create or overwrite an object including its status (fixtures, demo data)."""
        namespace = (obj.get("metadata") or {}).get("namespace") or ("default" if rtype.namespaced else None)
        opts = WriteOptions(manager="devstack-seed")
        with self.lock:
            if rtype.namespaced and create_namespace and ("", namespace) not in self.objects[NAMESPACES_KEY]:
                self.create(self.resolve("", "v1", "namespaces"), None, {"metadata": {"name": namespace}}, opts)
            name = obj["metadata"]["name"]
            old = self._bucket(rtype).get(self._key(rtype, namespace, name))
            if old is None:
                self._check_namespace(rtype, namespace, name)
            candidate = self._candidate(rtype, namespace, obj, old, "")
            if "status" in obj:
                candidate["status"] = copy.deepcopy(obj["status"])
            stored, _ = self._commit(rtype, old, candidate, opts, "")
            return self._present(rtype, stored)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "resourceVersion": self.resource_version,
                "objects": [copy.deepcopy(o) for bucket in self.objects.values() for o in bucket.values()],
            }
