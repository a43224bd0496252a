"""What a permitted write may ask for: kubeconfig contexts, bundle registries, ServiceAccounts.

The trust model is that the server's operator, not any caller, decides which clusters a
run may reach and what a remediation workflow may run and as whom. The servicers apply
:class:`RequestPolicy` to StartRun (``context``) and workflow Create (the bundle image and
``serviceAccountName``) before anything else happens, with or without authentication:

- a context must be on ``ASSAY_ALLOWED_CONTEXTS`` (default: none, so runs only ever see the
  server's own cluster); anything else is an invalid argument;
- the bundle must come from ``ASSAY_ALLOWED_REGISTRIES`` (empty: any) and the
  ServiceAccount be on ``ASSAY_ALLOWED_SERVICE_ACCOUNTS`` (empty: only the runner account);
  anything else is refused (PermissionDenied): a privilege the server does not grant.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay.server.auth.images import from_registry
from assay.server.auth.settings import AuthSettings
from assay.server.core.errors import PermissionDenied


@dataclass(frozen=True)
class RequestPolicy:
    allowed_contexts: frozenset[str] = frozenset()
    allowed_registries: tuple[str, ...] = ()
    allowed_service_accounts: frozenset[str] = frozenset()

    @classmethod
    def from_settings(cls, settings: AuthSettings, *, runner_account: str) -> RequestPolicy:
        return cls(
            allowed_contexts=frozenset(settings.allowed_contexts),
            allowed_registries=settings.allowed_registries,
            allowed_service_accounts=frozenset(settings.allowed_service_accounts or ())
            or frozenset({runner_account}),
        )

    def context_problem(self, context: str) -> str:
        """Why ``context`` may not be used ("" when it may; empty means the own cluster)."""
        if not context or context in self.allowed_contexts:
            return ""
        if not self.allowed_contexts:
            return "this server assesses only its own cluster (no ASSAY_ALLOWED_CONTEXTS)"
        return "not one of the contexts this server allows (ASSAY_ALLOWED_CONTEXTS)"

    def check_bundle(self, image: str, *, field: str) -> None:
        if not from_registry(image, self.allowed_registries):
            raise PermissionDenied(
                f"{field}: the image is not from a registry this server allows "
                "(ASSAY_ALLOWED_REGISTRIES)"
            )

    def check_service_account(self, name: str, *, field: str) -> None:
        """An empty ``name`` (the runner account) is always allowed."""
        if name and name not in self.allowed_service_accounts:
            raise PermissionDenied(
                f"{field}: not a ServiceAccount this server lets workflows run as "
                "(ASSAY_ALLOWED_SERVICE_ACCOUNTS)"
            )
