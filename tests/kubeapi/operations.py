"""API-server semantics on top of the object store: what create/update/patch/delete do.

Both the HTTP handlers and the test-side helpers (`seed`, the Tekton simulator) go through
`Operations`, so every write gets the same treatment a real API server gives it:
server-set metadata, optimistic concurrency on resourceVersion, generation bumps on spec
changes only, the status subresource split, finalizers and deletionTimestamp, and CRDs
becoming served resources when they are created. What is checked before a write is
stored (metadata, custom-resource schemas) lives in `admission.py`.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .admission import (
    FieldValidation,
    Warnings,
    admit_custom_resource,
    require_resource_version,
    validate_metadata,
)
from .jsonutil import JsonObject, deep_copy, metadata, now_rfc3339
from .patch import (
    JSON_PATCH,
    MERGE_PATCH,
    STRATEGIC_MERGE_PATCH,
    PatchError,
    apply_json_patch,
    merge_patch,
)
from .resources import CRD_GROUP, CRD_PLURAL, ResourceRegistry, ResourceType
from .selectors import FieldSelector, LabelSelector
from .status import (
    STALE_OBJECT,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    required,
)
from .store import ObjectStore

# Everything but these top-level fields counts as "spec" for metadata.generation, which
# is how custom resources behave and close enough for built-ins (whose status is split).
_NON_SPEC_FIELDS = frozenset({"apiVersion", "kind", "metadata", "status"})
# Metadata the server owns: a client can send anything here, the stored value wins.
_SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)
_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # apiserver's: no vowels, no 0/1/3
_NAMESPACES = ("", "namespaces")
Objects = list[JsonObject]  # spelt here: inside Operations, `list` is a method


def _spec_of(obj: JsonObject) -> JsonObject:
    return {k: v for k, v in obj.items() if k not in _NON_SPEC_FIELDS}


def _without_version(obj: JsonObject) -> JsonObject:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


class Operations:
    """The verbs of the Kubernetes API with real API-server semantics (thread-safe)."""

    def __init__(
        self, store: ObjectStore, registry: ResourceRegistry, *, strict_namespaces: bool
    ) -> None:
        self.store = store
        self.registry = registry
        # A real server refuses to create into a namespace that does not exist.
        self.strict_namespaces = strict_namespaces

    # -- reads -------------------------------------------------------------------------

    def present(self, resource: ResourceType, obj: JsonObject) -> JsonObject:
        """The object as served at resource's version (CRD versions share storage and the
        double, like a CRD with conversion strategy None, only rewrites apiVersion)."""
        return {**obj, "apiVersion": resource.api_version, "kind": resource.kind}

    def get(self, resource: ResourceType, namespace: str | None, name: str) -> JsonObject:
        return self.present(resource, self._require(resource, namespace or "", name))

    def list(
        self,
        resource: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> tuple[list[JsonObject], int]:
        """Copies of the matching objects and the resourceVersion the list is consistent
        with. Only the matches are copied."""
        items, revision = self.list_shared(resource, namespace, labels, fields)
        return [deep_copy(obj) for obj in items], revision

    def list_shared(
        self,
        resource: ResourceType,
        namespace: str | None,
        labels: LabelSelector | None = None,
        fields: FieldSelector | None = None,
    ) -> tuple[Objects, int]:
        """Like `list`, but the objects share their contents with the store: for callers
        that only read or serialise them (the HTTP LIST)."""

        def matches(obj: JsonObject) -> bool:
            return (labels is None or labels.matches(obj)) and (
                fields is None or fields.matches(obj)
            )

        with self.store.lock:
            items = self.store.select(resource.storage_key, namespace or None, matches)
            revision = self.store.resource_version
        return [self.present(resource, obj) for obj in items], revision

    # -- writes ------------------------------------------------------------------------

    def create(
        self,
        resource: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        validation: FieldValidation = "Ignore",
        warnings: Warnings | None = None,
    ) -> JsonObject:
        """POST. `validation` is the fieldValidation parameter: what to do about fields the
        schema of a custom resource does not know (Warn appends to `warnings`)."""
        obj = self._checked_body(resource, body)
        meta = metadata(obj)
        namespace = self._write_namespace(resource, namespace, meta)
        with self.store.lock:
            name = meta.get("name") or self._generate_name(resource, namespace, meta)
            validate_metadata(resource, name, meta)
            if (
                self.strict_namespaces
                and resource.namespaced
                and self.store.get(_NAMESPACES, "", namespace) is None
            ):
                raise not_found("namespaces", "", namespace)
            if self.store.get(resource.storage_key, namespace, name) is not None:
                raise already_exists(resource.plural, resource.group, name)
            meta.update(
                name=name,
                uid=str(uuid.uuid4()),
                creationTimestamp=now_rfc3339(),
                generation=1,
            )
            for server_only in (
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "resourceVersion",
                "selfLink",
            ):
                meta.pop(server_only, None)
            self._place(resource, meta, namespace)
            if resource.has_status:
                # Status is written through the status subresource only.
                obj.pop("status", None)
                if resource.initial_status is not None:
                    obj["status"] = deep_copy(dict(resource.initial_status))
            admit_custom_resource(
                resource, name, obj, None, validation=validation, warnings=warnings
            )
            self._before_store(resource, obj)
            return self.present(resource, self.store.put(resource.storage_key, obj))

    def update(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        validation: FieldValidation = "Ignore",
        warnings: Warnings | None = None,
        version_required: bool = True,
    ) -> JsonObject:
        """PUT. With subresource="status" only .status is taken from body. A custom resource
        must name the resourceVersion it replaces (built-ins may leave it out: their
        registries allow an unconditional update); a stale one is a 409 for all."""
        new = self._checked_body(resource, body)
        meta = metadata(new)
        if meta.get("name") not in (None, "", name):
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL "
                f"({name})"
            )
        namespace = self._write_namespace(resource, namespace, meta)
        with self.store.lock:
            old = self._require(resource, namespace, name)
            old_meta = old["metadata"]
            wanted = meta.get("resourceVersion")
            if not wanted and version_required:
                require_resource_version(resource, name)
            if wanted and wanted != old_meta["resourceVersion"]:
                raise conflict(resource.plural, resource.group, name, STALE_OBJECT)
            if subresource == "status":
                new = self._status_update(old, new)
            else:
                new = self._main_update(resource, name, namespace, old, new)
            admit_custom_resource(
                resource,
                name,
                new,
                old,
                status_only=subresource == "status",
                validation=validation,
                warnings=warnings,
            )
            if _without_version(new) == _without_version(old):
                # A no-op write keeps the resourceVersion and emits no event, as etcd does.
                return self.present(resource, old)
            new_meta = metadata(new)
            if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
                # The last finalizer is gone from an object being deleted: it goes away now.
                final = self.store.remove(resource.storage_key, namespace, name, last_state=new)
                assert final is not None  # held under the lock since _require
                self._after_delete(resource, final)
                return self.present(resource, final)
            self._before_store(resource, new)
            return self.present(resource, self.store.put(resource.storage_key, new))

    def patch(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        validation: FieldValidation = "Ignore",
        warnings: Warnings | None = None,
    ) -> JsonObject:
        with self.store.lock:
            current = self.present(resource, self._require(resource, namespace or "", name))
            accepted = [JSON_PATCH, MERGE_PATCH]
            if resource.builtin:
                # Custom resources have no patch strategy metadata: the real server
                # refuses strategic merge patches for them.
                accepted.append(STRATEGIC_MERGE_PATCH)
            try:
                if content_type not in accepted:
                    raise ApiError(
                        415,
                        "the body of the request was in an unknown format - accepted media "
                        f"types include: {', '.join(accepted)}",
                    )
                if content_type in (MERGE_PATCH, STRATEGIC_MERGE_PATCH):
                    if not isinstance(patch, dict):
                        raise bad_request("a merge patch must be a JSON object")
                    patched = merge_patch(current, patch)
                else:
                    patched = apply_json_patch(current, patch)
            except PatchError as error:
                raise ApiError(422, str(error)) from error
            if not isinstance(patched, dict):
                raise ApiError(422, "the patch did not produce an object")
            # The patched document carries the current resourceVersion unless the patch set
            # one, so a stale metadata.resourceVersion in the patch is a 409 like in PUT.
            return self.update(
                resource,
                namespace,
                name,
                patched,
                subresource=subresource,
                validation=validation,
                warnings=warnings,
                version_required=False,
            )

    def delete(
        self,
        resource: ResourceType,
        namespace: str | None,
        name: str,
        options: JsonObject | None = None,
    ) -> tuple[JsonObject, bool]:
        """DELETE. Returns (object, deleted now); objects with finalizers only get
        metadata.deletionTimestamp and stay until an update removes the last finalizer."""
        with self.store.lock:
            current = self._require(resource, namespace or "", name)
            self._check_preconditions(resource, name, current, options or {})
            meta = current["metadata"]
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return self.present(resource, current), False
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                stored = self.store.put(resource.storage_key, current)
                return self.present(resource, stored), False
            final = self.store.remove(resource.storage_key, namespace or "", name)
            assert final is not None  # held under the lock since _require
            self._after_delete(resource, final)
            return self.present(resource, final), True

    def seed(self, obj: JsonObject) -> JsonObject:
        """Store obj as given (status, finalizers, deletionTimestamp included), filling
        only missing server fields (and the initial status, e.g. a Pod's Pending phase,
        when there is none); replaces an existing object of the same name."""
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        resource = self.registry.by_kind(str(api_version), str(kind))
        if resource is None:
            raise ValueError(f"seed: no served resource for apiVersion={api_version} kind={kind}")
        obj = deep_copy(obj)
        meta = metadata(obj)
        namespace = meta.get("namespace") or ("default" if resource.namespaced else "")
        with self.store.lock:
            name = meta.get("name") or self._generate_name(resource, namespace, meta)
            existing = self.store.get(resource.storage_key, namespace, name)
            meta["name"] = name
            self._place(resource, meta, namespace)
            meta.setdefault("uid", existing["metadata"]["uid"] if existing else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            meta.setdefault("generation", 1)
            meta.pop("resourceVersion", None)
            if "status" not in obj and resource.initial_status is not None:
                obj["status"] = deep_copy(dict(resource.initial_status))
            self._before_store(resource, obj)
            return self.present(resource, self.store.put(resource.storage_key, obj))

    # -- helpers -----------------------------------------------------------------------

    def _require(self, resource: ResourceType, namespace: str, name: str) -> JsonObject:
        obj = self.store.get(resource.storage_key, namespace if resource.namespaced else "", name)
        if obj is None:
            raise not_found(resource.plural, resource.group, name)
        return obj

    def _checked_body(self, resource: ResourceType, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        api_version, kind = body.get("apiVersion"), body.get("kind")
        if api_version and api_version != resource.api_version:
            raise bad_request(
                f"the API version in the data ({api_version}) does not match the expected "
                f"API version ({resource.api_version})"
            )
        if kind and kind != resource.kind:
            raise bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({resource.kind})"
            )
        obj = deep_copy(body)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        return obj

    def _write_namespace(
        self, resource: ResourceType, namespace: str | None, meta: JsonObject
    ) -> str:
        if not resource.namespaced:
            return ""
        given = meta.get("namespace")
        if given and namespace and given != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        return namespace or given or "default"

    @staticmethod
    def _place(resource: ResourceType, meta: JsonObject, namespace: str) -> None:
        if resource.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _generate_name(self, resource: ResourceType, namespace: str, meta: JsonObject) -> str:
        prefix = meta.get("generateName")
        if not prefix:
            raise invalid(
                resource.kind,
                resource.group,
                "",
                [required("metadata.name", "name or generateName is required")],
            )
        while True:
            suffix = "".join(random.choices(_GENERATE_NAME_ALPHABET, k=5))
            candidate = f"{prefix}{suffix}"
            if self.store.get(resource.storage_key, namespace, candidate) is None:
                return candidate

    def _main_update(
        self,
        resource: ResourceType,
        name: str,
        namespace: str,
        old: JsonObject,
        new: JsonObject,
    ) -> JsonObject:
        meta, old_meta = metadata(new), old["metadata"]
        for key in _SYSTEM_METADATA:
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["name"] = name
        self._place(resource, meta, namespace)
        if resource.has_status:
            # Writes to the main resource cannot change status.
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if _spec_of(new) != _spec_of(old):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        validate_metadata(resource, name, meta)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise invalid(
                    resource.kind,
                    resource.group,
                    name,
                    [
                        forbidden(
                            "metadata.finalizers",
                            "no new finalizers can be added if the object is being deleted",
                        )
                    ],
                )
        return new

    @staticmethod
    def _status_update(old: JsonObject, new: JsonObject) -> JsonObject:
        # Everything but .status comes from the stored object, metadata included.
        merged = deep_copy(old)
        if "status" in new:
            merged["status"] = new["status"]
        else:
            merged.pop("status", None)
        return merged

    @staticmethod
    def _check_preconditions(
        resource: ResourceType, name: str, current: JsonObject, options: JsonObject
    ) -> None:
        preconditions = options.get("preconditions") or {}
        meta = current["metadata"]
        for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(field_name)
            if wanted and wanted != meta.get(field_name):
                raise conflict(
                    resource.plural,
                    resource.group,
                    name,
                    f"Precondition failed: {label} in precondition: {wanted}, "
                    f"{label} in object meta: {meta.get(field_name)}",
                )

    # CRDs are the one resource whose writes change what the server serves.

    def _before_store(self, resource: ResourceType, obj: JsonObject) -> None:
        if (resource.group, resource.plural) != (CRD_GROUP, CRD_PLURAL):
            return
        self.registry.register_crd(obj)  # validates; 422 on a malformed CRD
        spec = obj["spec"]
        storage = [v["name"] for v in spec["versions"] if v.get("storage")]
        now = now_rfc3339()
        obj["status"] = {
            "acceptedNames": spec["names"],
            "storedVersions": storage or [spec["versions"][0]["name"]],
            "conditions": [
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "message": message,
                    "lastTransitionTime": now,
                }
                for kind, reason, message in (
                    ("NamesAccepted", "NoConflicts", "no conflicts found"),
                    ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
                )
            ],
        }

    def _after_delete(self, resource: ResourceType, obj: JsonObject) -> None:
        if (resource.group, resource.plural) != (CRD_GROUP, CRD_PLURAL):
            return
        for served in self.registry.unregister_crd(obj["metadata"]["name"]):
            self.store.drop_all(served.storage_key)
