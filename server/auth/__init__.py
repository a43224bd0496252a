"""Who may call the server, and what a call may ask for.

Used by the gRPC edge (the authentication interceptor, the servicers' request policy) and
by the composition root (``setup.build_auth``; the ``/metrics`` gate). Map::

    principal     Principal (user, groups), bound per call in a context variable
    tokens        the TokenAuthenticator protocol; the static token file
    review        TokenReview and SubjectAccessReview through the kube client, cached
    cache         the TTL cache of review answers (keys: token digests, never tokens)
    tls           TLS files checked and reloaded on change; client-certificate identities
    authn         Credentials -> Principal, or Unauthenticated
    access        Access (read/write) and the writer-group rule
    policy        what a write may ask for: contexts, bundle registries, ServiceAccounts
    images        image references reduced to registry/path for the allow-list
    metrics       the /metrics gate: token, then group or RBAC
    settings      AuthSettings (ASSAY_TOKEN_FILE, ...), TlsSettings (ASSAY_TLS_*)
    setup         build_auth: settings -> the parts above

Nothing here imports gRPC, storage, assessments or workflows (see docs/design.md, "Layers").
"""
