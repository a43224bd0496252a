"""Where the client's cluster, credentials and TLS come from: a kubeconfig or in-cluster.

The composition root turns :class:`~assay.server.kube.settings.KubeSettings` into a
:data:`KubeClientFactory` with :func:`client_factory`; the runner calls it once per live
run (with the run's kubeconfig context, or ``""`` for the configured one) and the workflow
controller once at start-up. Each call returns a new :class:`KubeClient` that the caller
closes. The loading itself is ``kubernetes.aio``'s (exec plugins, token files, client
certificates); a failure becomes :class:`~assay.server.kube.errors.KubeConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes.aio import client as k8s_client
from kubernetes.aio import config as k8s_config

from assay.server.kube.client import KubeClient
from assay.server.kube.errors import KubeConfigError
from assay.server.kube.settings import KubeSettings

KubeClientFactory = Callable[[str], Awaitable[KubeClient]]
"""Makes a client for a kubeconfig context (``""``: the configured one)."""

# The config loaders are untyped; calling them through Any keeps mypy strict elsewhere.
_load_kube_config: Any = k8s_config.load_kube_config
_load_incluster_config: Any = k8s_config.load_incluster_config


async def api_client_from_config(
    *, kubeconfig: str | None = None, context: str | None = None, in_cluster: bool | None = None
) -> k8s_client.ApiClient:
    """A ``kubernetes.aio`` ``ApiClient`` configured from a kubeconfig or in-cluster.

    ``in_cluster=None`` picks the kubeconfig when one is given or exists at the default
    location (``$KUBECONFIG`` or ``~/.kube/config``), else the pod's service account.
    The caller closes the client.
    """
    configuration = k8s_client.Configuration()
    default_path, default_exists = _default_kubeconfig()
    use_file = not in_cluster and (kubeconfig is not None or in_cluster is False or default_exists)
    try:
        if use_file:
            await _load_kube_config(
                config_file=kubeconfig or default_path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        else:
            _load_incluster_config(client_configuration=configuration)
    except (k8s_config.ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        where = f"kubeconfig {kubeconfig or default_path}" if use_file else "in-cluster config"
        context_note = f" (context {context!r})" if context else ""
        raise KubeConfigError(f"cannot load {where}{context_note}: {exc}") from exc
    return k8s_client.ApiClient(configuration)


def _default_kubeconfig() -> tuple[str, bool]:
    """The first ``$KUBECONFIG`` entry (or ``~/.kube/config``) and whether it exists."""
    path = os.path.expanduser(
        os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
    )
    return path, os.path.exists(path)


async def connect(settings: KubeSettings, *, context: str = "") -> KubeClient:
    """A client for ``context`` (or the configured context) with the configured limits."""
    api = await api_client_from_config(
        kubeconfig=settings.kubeconfig or None, context=context or settings.context or None
    )
    return KubeClient(api, settings=settings)


def client_factory(settings: KubeSettings) -> KubeClientFactory:
    """:func:`connect` bound to ``settings``."""

    async def factory(context: str) -> KubeClient:
        return await connect(settings, context=context)

    return factory
