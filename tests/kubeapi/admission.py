"""What the double checks about a write before it is stored, answered as the API server does.

`operations.py` calls these on create, update, patch and status writes (never on `seed`):
- `validate_metadata`: the name rule of the resource and label syntax (422 Invalid);
- `require_resource_version`: a PUT of a custom resource must name the resourceVersion it
  replaces (built-in registries allow an unconditional update, custom resources do not);
- `admit_custom_resource`: pruning, defaults and schema validation against the CRD
  (`schema.py`), with unknown fields reported as the `fieldValidation` parameter asks.
"""

from __future__ import annotations

import re
from typing import Literal

from .jsonutil import JsonObject
from .resources import ResourceType
from .selectors import valid_label_key, valid_label_value
from .status import ApiError, FieldError, bad_request, invalid, invalid_value

# The fieldValidation query parameter; Ignore drops unknown fields silently.
FieldValidation = Literal["Ignore", "Warn", "Strict"]
Warnings = list[str]  # filled with the warnings a write earned (Warning headers over HTTP)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def validate_metadata(resource: ResourceType, name: str, meta: JsonObject) -> None:
    def fail(error: FieldError) -> ApiError:
        return invalid(resource.kind, resource.group, name, [error])

    if resource.name_rule == "label" and not (len(name) <= 63 and _DNS_LABEL.match(name)):
        raise fail(
            invalid_value(
                "metadata.name",
                name,
                "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                "characters or '-'",
            )
        )
    if resource.name_rule == "subdomain" and not (len(name) <= 253 and _DNS_SUBDOMAIN.match(name)):
        raise fail(
            invalid_value(
                "metadata.name",
                name,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.'",
            )
        )
    if resource.name_rule == "path" and (name in (".", "..") or re.search("[/%]", name)):
        raise fail(invalid_value("metadata.name", name, 'may not contain "/" or "%"'))
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        raise fail(invalid_value("metadata.labels", labels, "must be a map of strings"))
    for key, value in labels.items():
        if not valid_label_key(key):
            raise fail(invalid_value("metadata.labels", key, "not a valid label key"))
        if not isinstance(value, str) or not valid_label_value(value):
            raise fail(invalid_value("metadata.labels", value, "not a valid label value"))


def require_resource_version(resource: ResourceType, name: str) -> None:
    """A PUT without metadata.resourceVersion: refused for custom resources."""
    if not resource.builtin:
        error = invalid_value("metadata.resourceVersion", 0, "must be specified for an update")
        raise invalid(resource.kind, resource.group, name, [error])


def admit_custom_resource(
    resource: ResourceType,
    name: str,
    obj: JsonObject,
    old: JsonObject | None,
    *,
    status_only: bool = False,
    validation: FieldValidation,
    warnings: Warnings | None,
) -> None:
    """Prune, default and validate a custom resource against its CRD schema (in place)."""
    if resource.schema is None:
        return
    admission = resource.schema.admit(obj, old, status_only=status_only)
    unknown = [f'unknown field "{path}"' for path in admission.pruned]
    if unknown and validation == "Strict":
        raise bad_request(
            f'{resource.kind} in version "{resource.version}" cannot be handled as a '
            f"{resource.kind}: strict decoding error: {', '.join(unknown)}"
        )
    if unknown and validation == "Warn" and warnings is not None:
        warnings.extend(unknown)
    if admission.errors:
        raise invalid(resource.kind, resource.group, name, admission.errors)
