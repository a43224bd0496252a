"""Authorisation: which principal may make which kind of call.

Reads are open to any authenticated caller; writes (StartRun, StartManifestRun, CancelRun,
workflow Create) need membership of one of the writer groups (``ASSAY_WRITER_GROUPS``).
The gRPC edge classifies every method it serves as :class:`Access` (``server/api/access.py``,
where a method left unclassified is refused) and calls :meth:`AccessRules.check` once the
caller is authenticated. With authentication off (loopback only) every caller may do
everything. What a write may contain (contexts, registries, ServiceAccounts) is
:mod:`.policy`'s business.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from assay.server.auth.principal import Principal, Via
from assay.server.core.errors import PermissionDenied


class Access(enum.StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class AccessRules:
    writer_groups: frozenset[str]

    def allows(self, principal: Principal, access: Access) -> bool:
        if principal.via is Via.OPEN or access is Access.READ:
            return True
        return principal.in_any(self.writer_groups)

    def check(self, principal: Principal, access: Access) -> None:
        """PermissionDenied unless ``principal`` may make a call of kind ``access``."""
        if not self.allows(principal, access):
            raise PermissionDenied(
                "this call changes state: it needs membership of a writer group "
                "(ASSAY_WRITER_GROUPS on the server)"
            )
