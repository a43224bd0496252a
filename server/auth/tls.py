"""TLS material of the gRPC port, read from files and re-read when they change.

:class:`TlsFiles` loads the certificate chain, its private key and the optional client CA
bundle named by :class:`~assay.server.auth.settings.TlsSettings`, and checks them before
use: every PEM block parses, the key belongs to the first certificate, the CA bundle holds
at least one certificate. ``load()`` is the start-up read (it raises :class:`TlsError`);
``refresh()`` is called by the gRPC credentials' fetcher before each TLS handshake
(``server/api/tls.py``) and returns new material only when a file changed and the new set
is good. A bad or half-written set (cert-manager writes the files one after the other) is
logged once and the last good material stays in force; the next change is tried again.

:func:`certificate_principal` reads the identity of a verified client certificate the way
Kubernetes does: the subject's common name is the user, its organisations the groups.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from assay.server.auth.principal import Principal, Via
from assay.server.auth.settings import TlsSettings

log = logging.getLogger(__name__)

_PUBLIC = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


class TlsError(ValueError):
    """The TLS files cannot be used; the message names the file, never a key."""


@dataclass(frozen=True)
class TlsMaterial:
    key: bytes
    chain: bytes
    client_ca: bytes | None

    @property
    def mutual(self) -> bool:
        return self.client_ca is not None


Signature = tuple[tuple[int, int, int], ...]


class TlsFiles:
    def __init__(self, settings: TlsSettings) -> None:
        if not (settings.cert and settings.key):
            raise ValueError("TlsFiles needs a certificate and a key")
        self._paths = tuple(p for p in (settings.cert, settings.key, settings.client_ca) if p)
        self._settings = settings
        self._signature: Signature | None = None
        self._failed: Signature | None = None
        self.current: TlsMaterial | None = None
        self.reloads = 0

    @property
    def mutual(self) -> bool:
        return bool(self._settings.client_ca)

    def _stat(self) -> Signature:
        out = []
        for path in self._paths:
            stat = os.stat(path)  # follows the symlinks a Secret volume swaps
            out.append((stat.st_mtime_ns, stat.st_size, stat.st_ino))
        return tuple(out)

    def load(self) -> TlsMaterial:
        """Read and check the files now; :class:`TlsError` when they are unusable."""
        try:
            signature = self._stat()
        except OSError as exc:
            raise TlsError(f"cannot read {exc.filename}: {exc.strerror}") from None
        material = self._read()
        self._signature, self.current = signature, material
        return material

    def refresh(self) -> TlsMaterial | None:
        """New material when a file changed and the set is good; None otherwise."""
        try:
            signature = self._stat()
        except OSError as exc:
            log.warning(
                "TLS files not reloaded (%s: %s); the previous ones stay",
                exc.filename,
                exc.strerror,
            )
            return None
        if signature in (self._signature, self._failed):
            return None
        try:
            material = self._read()
        except TlsError as exc:
            self._failed = signature
            log.warning("TLS files not reloaded (%s); the previous ones stay", exc)
            return None
        self._signature, self._failed, self.current = signature, None, material
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", self._settings.cert)
        return material

    def _read(self) -> TlsMaterial:
        settings = self._settings
        chain = _read_file(settings.cert)
        key_pem = _read_file(settings.key)
        try:
            certificates = x509.load_pem_x509_certificates(chain)
        except ValueError:
            raise TlsError(f"{settings.cert}: not a PEM certificate chain") from None
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError):
            raise TlsError(f"{settings.key}: not an unencrypted PEM private key") from None
        if key.public_key().public_bytes(*_PUBLIC) != certificates[0].public_key().public_bytes(
            *_PUBLIC
        ):
            raise TlsError(f"{settings.key}: the key does not belong to {settings.cert}")
        client_ca = None
        if settings.client_ca:
            client_ca = _read_file(settings.client_ca)
            try:
                x509.load_pem_x509_certificates(client_ca)
            except ValueError:
                raise TlsError(f"{settings.client_ca}: not a PEM CA bundle") from None
        return TlsMaterial(key=key_pem, chain=chain, client_ca=client_ca)


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as exc:
        raise TlsError(f"cannot read {path}: {exc.strerror}") from None


def certificate_principal(pem: bytes) -> Principal | None:
    """The principal of a client certificate TLS verified (CN user, O groups); None when it
    names no user."""
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return None
    subject = certificate.subject
    names = [a.value for a in subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    user = names[0] if names and isinstance(names[0], str) else ""
    if not user:
        return None
    groups = frozenset(
        a.value
        for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if isinstance(a.value, str) and a.value
    )
    return Principal(user, groups, Via.CLIENT_CERTIFICATE)
