"""Kubernetes object-name rules (RFC 1123), for settings and inputs that name objects.

Used to validate configured namespaces and Lease names before the server starts, so a bad
value is a clear start-up error instead of a 422 from the API server much later.
"""

from __future__ import annotations

import re

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def is_dns_label(value: str) -> bool:
    """A namespace (or Service) name: lower-case alphanumerics and '-', at most 63."""
    return len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_dns_subdomain(value: str) -> bool:
    """Most object names (Lease, ServiceAccount): dot-separated DNS labels, at most 253."""
    return len(value) <= 253 and _DNS_SUBDOMAIN.fullmatch(value) is not None
