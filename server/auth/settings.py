"""Settings of authentication, authorisation and TLS: the ``auth`` and ``tls`` groups.

``auth`` has no prefix (``token_file`` -> ``ASSAY_TOKEN_FILE`` / ``--token-file``), ``tls``
the group's (``client_ca`` -> ``ASSAY_TLS_CLIENT_CA``); lists are comma-separated. The
composition root builds the authenticators, the access rules and the request policy from
them (:mod:`.setup`); ``server/settings.py`` holds the rules that span groups (no listener
beyond loopback while authentication is off).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from assay.server.auth.images import is_registry_prefix
from assay.server.kube.names import is_dns_subdomain

DEFAULT_WRITER_GROUPS = ("assay:writers",)
DEFAULT_METRICS_GROUPS = ("assay:metrics",)


@dataclass(frozen=True)
class AuthSettings:
    token_file: str = field(
        default="",
        metadata={
            "help": "File of bearer tokens, one 'token,user,group1|group2' per line; re-read "
            "when it changes.",
        },
    )
    token_review: bool = field(
        default=False,
        metadata={"help": "Check bearer tokens with the cluster's TokenReview API."},
    )
    token_audiences: tuple[str, ...] = field(
        default=(),
        metadata={"help": "Audiences a reviewed token must carry (empty: the API server's)."},
    )
    token_cache_ttl_s: float = field(
        default=10.0,
        metadata={
            "help": "Seconds a TokenReview answer is reused (0: ask every time).",
            "min": 0,
            "max": 600,
        },
    )
    writer_groups: tuple[str, ...] = field(
        default=DEFAULT_WRITER_GROUPS,
        metadata={
            "help": "Groups allowed to start and cancel runs and to create workflow "
            "executions (reads need only authentication)."
        },
    )
    metrics_groups: tuple[str, ...] = field(
        default=DEFAULT_METRICS_GROUPS,
        metadata={
            "help": "Groups allowed to read /metrics (with TokenReview, RBAC 'get' on the "
            "non-resource URL /metrics allows it too)."
        },
    )
    allowed_contexts: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "kubeconfig contexts a StartRun may name (empty: none, only the "
            "server's own cluster)."
        },
    )
    allowed_registries: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "Registries, or registry/path prefixes, that workflow bundles may come "
            "from (empty: any)."
        },
    )
    allowed_service_accounts: tuple[str, ...] = field(
        default=(),
        metadata={
            "help": "ServiceAccounts a workflow execution may run as (empty: only the "
            "runner account, ASSAY_WORKFLOW_DEFAULT_SERVICE_ACCOUNT).",
            "default_text": "the runner account",
        },
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.token_file and not os.path.isfile(self.token_file):
            yield "token_file", f"{self.token_file!r} is not a file"
        for name in ("writer_groups", "metrics_groups", "allowed_contexts"):
            if any(len(item) > 253 for item in getattr(self, name)):
                yield name, "each entry must be at most 253 characters"
        bad = [r for r in self.allowed_registries if not is_registry_prefix(r)]
        if bad:
            yield "allowed_registries", f"not a registry or registry/path: {', '.join(bad)}"
        bad = [a for a in self.allowed_service_accounts if not is_dns_subdomain(a)]
        if bad:
            yield "allowed_service_accounts", f"not ServiceAccount names: {', '.join(bad)}"


@dataclass(frozen=True)
class TlsSettings:
    cert: str = field(
        default="",
        metadata={"help": "PEM certificate chain of the gRPC port (TLS); re-read on change."},
    )
    key: str = field(default="", metadata={"help": "PEM private key of the certificate."})
    client_ca: str = field(
        default="",
        metadata={
            "help": "PEM CA bundle: clients must present a certificate it signed (mTLS); "
            "the certificate's CN is the user and its O entries the groups."
        },
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        if bool(self.cert) != bool(self.key):
            yield ("key" if self.cert else "cert"), "TLS needs both a certificate and a key"
        if self.client_ca and not self.cert:
            yield "client_ca", "client certificates need TLS: set ASSAY_TLS_CERT and _KEY"
        for name in ("cert", "key", "client_ca"):
            path = getattr(self, name)
            if path and not os.path.isfile(path):
                yield name, f"{path!r} is not a file"
