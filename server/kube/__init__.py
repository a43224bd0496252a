"""The one Kubernetes client of the server, and the controller plumbing built on it.

Used by the live inventory (discovery, paginated lists) and by the workflow controller
(everything below); checks that read the cluster live go through the inventory. Map::

    client      KubeClient: get/list/pages/create/replace/patch/delete/watch, discovery,
                /version; raw JSON, large bodies parsed off the loop
    config      kubeconfig (with context) or in-cluster -> a client; KubeClientFactory
    errors      the one error tree (KubeError ...) and domain_error() for the gRPC edge
    resources   Resource and escaped URL paths; the core resources the server uses
    objects     KubeObject (a dict), ObjectList, WatchEvent, Discovery, ServerVersion
    watch       one watch request as events; Watcher resumes from the last resourceVersion
    retry       ConflictRetry: the read-modify-write loop on 409, with one limit
    informer    list + watch into a cache, re-list on 410
    workqueue   deduplicating, rate-limited work queue
    leader      Lease-based leader election
    events      Kubernetes Events recorder
    settings    KubeSettings (ASSAY_KUBE_*), BackoffSettings, LeaderElectionSettings
    names, times, codec   name rules, API timestamps, JSON decoding

Nothing here imports the inventory, checks, workflow, storage or gRPC (see docs/design.md,
"Layers").

Import from the modules (``from assay.server.kube.client import KubeClient``): this package
re-exports nothing, so reading its settings does not load the HTTP client.
"""
