"""gRPC server credentials from :class:`~assay.server.auth.tls.TlsFiles`, reloaded on change.

``grpc.dynamic_ssl_server_credentials`` calls the fetcher before every TLS handshake; the
fetcher returns a new certificate configuration only when the files changed and the new
set is valid (``TlsFiles.refresh``), so cert-manager can rotate the certificate (and the
client CA) without a restart, and a bad file keeps the last good configuration.
"""

from __future__ import annotations

import logging

import grpc

from assay.server.auth.tls import TlsFiles, TlsMaterial

log = logging.getLogger(__name__)


def _configuration(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.key, material.chain)], root_certificates=material.client_ca
    )


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Credentials for ``add_secure_port``; TlsError when the files are unusable now."""
    initial = files.current or files.load()

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        try:
            fresh = files.refresh()
        except Exception:  # the handshake must go on with what it has
            log.exception("reloading the TLS files failed")
            return None
        return None if fresh is None else _configuration(fresh)

    return grpc.dynamic_ssl_server_credentials(
        _configuration(initial), fetch, require_client_authentication=files.mutual
    )
