"""Container image references reduced to where they come from, for the registry allow-list.

:func:`image_repository` normalises a reference as container runtimes do (``nginx`` ->
``docker.io/library/nginx``; the first component is a registry only when it has a ``.`` or
a ``:`` or is ``localhost``), drops the tag, and refuses anything that is not a valid
reference, so a crafted name (``quay.io/org/../evil``) cannot pass for an allowed one.
:func:`from_registry` is the allow-list test the workflow Create policy applies
(:mod:`.policy`); :func:`is_registry_prefix` validates the configured entries.
"""

from __future__ import annotations

import re

_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(?::[0-9]{1,5})?")
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_MAX_REFERENCE = 512


def image_repository(reference: str) -> str | None:
    """``registry/path`` of an image reference without tag or digest; None when invalid."""
    if not reference or len(reference) > _MAX_REFERENCE:
        return None
    name, _, digest = reference.partition("@")
    if digest and not re.fullmatch(r"sha256:[a-f0-9]{64}", digest):
        return None
    slash, colon = name.rfind("/"), name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG.fullmatch(tag):
            return None
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        domain, path = first.lower(), rest
        if not _DOMAIN.fullmatch(first):
            return None
    else:
        domain, path = "docker.io", name
        if "/" not in path:
            path = f"library/{path}"
    components = path.split("/")
    if not all(_PATH_COMPONENT.fullmatch(c) for c in components):
        return None
    return f"{domain}/{path}"


def is_registry_prefix(entry: str) -> bool:
    """``entry`` names a registry (``quay.io``, ``localhost:5000``) or a path in one
    (``quay.io/kubernaut``)."""
    domain, sep, path = entry.partition("/")
    if not _DOMAIN.fullmatch(domain):
        return False
    return not sep or all(_PATH_COMPONENT.fullmatch(c) for c in path.split("/"))


def from_registry(reference: str, allowed: tuple[str, ...]) -> bool:
    """The image comes from one of ``allowed`` (whole path components; empty: any)."""
    if not allowed:
        return True
    repository = image_repository(reference)
    if repository is None:
        return False
    for entry in allowed:
        domain, _, path = entry.partition("/")
        prefix = domain.lower() + (f"/{path}" if path else "")
        if repository == prefix or repository.startswith(prefix + "/"):
            return True
    return False
