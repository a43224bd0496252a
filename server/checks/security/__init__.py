"""Security pillar (SEC-*): the checks, by theme.

pod         privilege, privilege escalation, user identity, root filesystem (SEC-001..004)
kernel      capabilities, seccomp/LSM profiles, /proc and sysctls (SEC-005..008)
host        host namespaces, host paths, runtime sockets, host ports (SEC-009..013)
identity    ServiceAccount tokens and the default ServiceAccount (SEC-014, 015)
secrets     credentials in env and ConfigMaps, Secrets in env (SEC-016..018)
rbac        RBAC wildcards, cluster-admin, sensitive and escalating access (SEC-019..023)
network     NetworkPolicy isolation, default deny, selectors matching nothing (SEC-024..026)
exposure    Ingress TLS and externally exposed Services (SEC-027, 028)
images      image provenance (SEC-029)
namespaces  Pod Security Admission (SEC-030)

Helpers: ``credentials`` (the secret heuristics shared by SEC-016 and SEC-018), ``authz``
(the RBAC index: bindings resolved to roles, aggregated rules and subjects), ``access``
(which accesses a binding grants).
"""

from assay.server.checks.kit import Check
from assay.server.checks.security import (
    exposure,
    host,
    identity,
    images,
    kernel,
    namespaces,
    network,
    pod,
    rbac,
    secrets,
)

CHECKS: tuple[Check, ...] = tuple(
    sorted(
        (
            *pod.CHECKS,
            *kernel.CHECKS,
            *host.CHECKS,
            *identity.CHECKS,
            *secrets.CHECKS,
            *rbac.CHECKS,
            *network.CHECKS,
            *exposure.CHECKS,
            *images.CHECKS,
            *namespaces.CHECKS,
        ),
        key=lambda c: c.id,
    )
)
