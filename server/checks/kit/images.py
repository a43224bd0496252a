"""Container image references read the way the container runtimes read them, for the checks
on image tags and digests (REL-013) and on where images come from (SEC-029).

    ref = ImageRef.parse("registry:5000/team/app:2.0@sha256:...")
    ref.name, ref.tag, ref.digest    # "registry:5000/team/app", "2.0", "sha256:..."
    ref.registry, ref.path           # "registry:5000", "team/app"
    ref.pinned                       # a well-formed digest

The tag is what follows the last ``:`` after the last ``/``, so a registry's port is never
taken for a tag. A first path component with a dot, a colon or ``localhost`` is a registry;
anything else lives on Docker Hub (``nginx`` is ``docker.io/library/nginx``).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset({"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
_DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
"""``algorithm:hex`` as the distribution reference grammar (which kubelet and the runtimes
use) accepts it."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image reference split into its name (registry and path as written), tag and
    digest (empty when absent)."""

    name: str
    tag: str
    digest: str

    @classmethod
    def parse(cls, image: str) -> ImageRef:
        name, _, digest = image.strip().partition("@")
        repository, colon, tag = name.rpartition(":")
        if not colon or "/" in tag:  # no tag, or the ':' was a registry's port
            return cls(name, "", digest)
        return cls(repository, tag, digest)

    @property
    def pinned(self) -> bool:
        """Whether the digest is well formed (a malformed one pins nothing)."""
        return bool(_DIGEST.fullmatch(self.digest))

    @property
    def registry(self) -> str:
        """The registry host (lower case), ``docker.io`` for Docker Hub by any of its names."""
        return self._split()[0]

    @property
    def path(self) -> str:
        """The repository path in the registry (``library/<name>`` for official images)."""
        return self._split()[1]

    def _split(self) -> tuple[str, str]:
        first, _, rest = self.name.partition("/")
        if rest and ("." in first or ":" in first or first == "localhost"):
            registry = first.lower()
            return (DOCKER_HUB if registry in _HUB_ALIASES else registry), rest
        return DOCKER_HUB, self.name if "/" in self.name else f"library/{self.name}"

    def within(self, entry: str) -> bool:
        """In the registry (glob, ``*.dkr.ecr.*.amazonaws.com``) and path prefix of ``entry``
        (``ghcr.io/acme`` covers ``ghcr.io/acme/api`` but not ``ghcr.io/acme-labs/api``)."""
        host, _, prefix = entry.strip().lower().partition("/")
        if host in _HUB_ALIASES:
            host = DOCKER_HUB
        if not fnmatch.fnmatchcase(self.registry, host):
            return False
        path = self.path.lower()
        return not prefix or path == prefix.rstrip("/") or path.startswith(prefix.rstrip("/") + "/")
