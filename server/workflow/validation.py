"""Validate a WorkflowExecution spec with the same rules as the CRD's OpenAPI schema.

The gRPC Create RPC calls :func:`ensure_valid_spec` (through
:meth:`WorkflowController.create`) so a bad request fails with INVALID_ARGUMENT and one
:class:`FieldViolation` per offending field (paths like ``spec.targetResource``) instead of an
opaque 422 from the API server; the reconciler calls :func:`validate_spec` again before it
starts anything, so an object that reached the cluster some other way fails with
ConfigurationError. The patterns below are the CRD's, and a unit test keeps them in step with
``deploy/crds/workflowexecution.yaml``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from assay.server.core.errors import FieldViolation, InvalidArgument
from assay.server.workflow.timeutil import GO_DURATION_PATTERN

TARGET_RESOURCE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[A-Za-z][A-Za-z0-9]*/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
)
TARGET_RESOURCE_MAX = 381
PARAMETER_KEY_PATTERN = r"^[A-Z][A-Z0-9_]*$"
PARAMETERS_MAX = 64
PARAMETER_VALUE_MAX = 8192
CONTAINER_IMAGE_PATTERN = r"^[^\s@]+$"
CONTAINER_IMAGE_MAX = 512
CONTAINER_DIGEST_PATTERN = r"^sha256:[a-f0-9]{64}$"
WORKFLOW_ID_MAX = 253
VERSION_MAX = 128
RATIONALE_MAX = 4096
SERVICE_ACCOUNT_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
SERVICE_ACCOUNT_MAX = 253
TIMEOUT_PATTERN = GO_DURATION_PATTERN

_TARGET = re.compile(TARGET_RESOURCE_PATTERN)
_PARAM_KEY = re.compile(PARAMETER_KEY_PATTERN)
_IMAGE = re.compile(CONTAINER_IMAGE_PATTERN)
_DIGEST = re.compile(CONTAINER_DIGEST_PATTERN)
_SERVICE_ACCOUNT = re.compile(SERVICE_ACCOUNT_PATTERN)
_TIMEOUT = re.compile(TIMEOUT_PATTERN)


class _Collector:
    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def add(self, path: str, description: str) -> None:
        self.violations.append(FieldViolation(field=path, description=description))

    def string(
        self,
        obj: Mapping[str, Any],
        key: str,
        path: str,
        *,
        required: bool = False,
        min_length: int = 0,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
        pattern_hint: str = "",
    ) -> None:
        if key not in obj or obj[key] is None:
            if required:
                self.add(path, "is required")
            return
        value = obj[key]
        if not isinstance(value, str):
            self.add(path, "must be a string")
            return
        if len(value) < min_length:
            self.add(path, "must not be empty" if min_length == 1 else f"needs {min_length}+ chars")
        elif max_length is not None and len(value) > max_length:
            self.add(path, f"must be at most {max_length} characters")
        elif pattern is not None and not pattern.match(value):
            self.add(path, pattern_hint or f"must match {pattern.pattern}")

    def mapping(
        self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False
    ) -> Mapping[str, Any] | None:
        if key not in obj or obj[key] is None:
            if required:
                self.add(path, "is required")
            return None
        value = obj[key]
        if not isinstance(value, Mapping):
            self.add(path, "must be an object")
            return None
        return value


def validate_spec(spec: object) -> list[FieldViolation]:
    """Every violation of the CRD schema in ``spec`` (empty when the spec is valid)."""
    c = _Collector()
    if not isinstance(spec, Mapping):
        c.add("spec", "must be an object")
        return c.violations

    ref = c.mapping(spec, "workflowRef", "spec.workflowRef", required=True)
    if ref is not None:
        c.string(
            ref,
            "workflowId",
            "spec.workflowRef.workflowId",
            required=True,
            min_length=1,
            max_length=WORKFLOW_ID_MAX,
        )
        c.string(
            ref,
            "version",
            "spec.workflowRef.version",
            required=True,
            min_length=1,
            max_length=VERSION_MAX,
        )
        c.string(
            ref,
            "containerImage",
            "spec.workflowRef.containerImage",
            required=True,
            min_length=1,
            max_length=CONTAINER_IMAGE_MAX,
            pattern=_IMAGE,
            pattern_hint="must be an OCI reference without whitespace or '@digest' "
            "(put the digest in containerDigest)",
        )
        c.string(
            ref,
            "containerDigest",
            "spec.workflowRef.containerDigest",
            pattern=_DIGEST,
            pattern_hint="must look like sha256:<64 lowercase hex characters>",
        )

    c.string(
        spec,
        "targetResource",
        "spec.targetResource",
        required=True,
        max_length=TARGET_RESOURCE_MAX,
        pattern=_TARGET,
        pattern_hint="must be 'namespace/kind/name' or 'kind/name'",
    )

    params = c.mapping(spec, "parameters", "spec.parameters")
    if params is not None:
        if len(params) > PARAMETERS_MAX:
            c.add("spec.parameters", f"must have at most {PARAMETERS_MAX} entries")
        for key, value in params.items():
            path = f"spec.parameters.{key}"
            if not isinstance(key, str) or not _PARAM_KEY.match(key):
                c.add(path, f"key must match {PARAMETER_KEY_PATTERN} (UPPER_SNAKE_CASE)")
            if not isinstance(value, str):
                c.add(path, "value must be a string")
            elif len(value) > PARAMETER_VALUE_MAX:
                c.add(path, f"value must be at most {PARAMETER_VALUE_MAX} characters")

    if spec.get("confidence") is not None:
        confidence = spec["confidence"]
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            c.add("spec.confidence", "must be a number")
        elif not 0 <= confidence <= 1:
            c.add("spec.confidence", "must be between 0 and 1")

    c.string(spec, "rationale", "spec.rationale", max_length=RATIONALE_MAX)

    config = c.mapping(spec, "executionConfig", "spec.executionConfig")
    if config is not None:
        c.string(
            config,
            "timeout",
            "spec.executionConfig.timeout",
            pattern=_TIMEOUT,
            pattern_hint="must be a duration like '30m' or '1h30m'",
        )
        c.string(
            config,
            "serviceAccountName",
            "spec.executionConfig.serviceAccountName",
            max_length=SERVICE_ACCOUNT_MAX,
            pattern=_SERVICE_ACCOUNT,
            pattern_hint="must be a DNS subdomain name",
        )

    rr = c.mapping(spec, "remediationRequestRef", "spec.remediationRequestRef")
    if rr is not None:
        c.string(rr, "name", "spec.remediationRequestRef.name", required=True, min_length=1)
        for key in ("apiVersion", "kind", "namespace", "uid"):
            c.string(rr, key, f"spec.remediationRequestRef.{key}")
    return c.violations


def ensure_valid_spec(spec: object) -> None:
    """Raise :class:`InvalidArgument` listing every violation, if there is any."""
    violations = validate_spec(spec)
    if violations:
        raise InvalidArgument(violations)
