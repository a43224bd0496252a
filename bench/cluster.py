"""A generated cluster shaped like a busy real one, for the benchmarks.

:func:`cluster_objects` gives about ``size`` objects as a live cluster lists them: per team
namespace a NetworkPolicy, a Role, a RoleBinding and a ServiceAccount; "apps" cycling
through Deployments (a ReplicaSet and two or three Pods each, with Services, ConfigMaps,
Secrets, an Ingress on one in three, an HPA or a PDB), StatefulSets (ordinal Pods and a
PersistentVolumeClaim per replica, a headless Service, a PDB), Jobs and CronJobs (with the
Jobs and Pods they left) and, now and then, a DaemonSet with a Pod on every node; Nodes and
cluster RBAC. :func:`manifest_objects` gives the same apps as a repository holds them: the
workloads and their companions only, none of what controllers create (ReplicaSets, Pods,
Jobs of CronJobs, claims of StatefulSets).

Containers vary the way they do in practice (stable by app number, so a rerun is the same
cluster): most have requests, fewer have limits, probes or a restrictive securityContext,
some run ``:latest`` or an untagged image, one app in twenty is privileged, one in five has
a sidecar.
"""

from __future__ import annotations

from typing import Any

NAMESPACES = 200
NODES_PER_OBJECTS = 250
"""One node per 250 objects (at least 3): 40 nodes for 10,000 objects, 200 for 50,000."""

DAEMONSETS = 8
"""Node agents are few: at most this many DaemonSets, each with a Pod on every node."""

Obj = dict[str, Any]


def cpu_autoscaling(deployment: str) -> Obj:
    """An HPA spec scaling ``deployment`` from 2 to 10 replicas at 70 % CPU."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
        "minReplicas": 2,
        "maxReplicas": 10,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 70},
                },
            }
        ],
    }


def _obj(api: str, kind: str, name: str, namespace: str | None = None, **meta: Any) -> Obj:
    metadata: Obj = {"name": name, **meta}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": api, "kind": kind, "metadata": metadata}


def _owner(kind: str, name: str, api: str = "apps/v1") -> list[Obj]:
    return [
        {
            "apiVersion": api,
            "kind": kind,
            "name": name,
            "uid": f"uid-{kind.lower()}-{name}",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]


def _image(app: int) -> str:
    if app % 17 == 0:
        return "nginx:latest"
    if app % 23 == 0:
        return f"registry.example.com/team/app-{app % 40}"
    return f"registry.example.com/team/app-{app % 40}:1.{app % 9}.{app % 5}"


def _container(app: int, name: str = "app") -> Obj:
    container: Obj = {
        "name": name,
        "image": _image(app),
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [
            {
                "name": "CONFIG",
                "valueFrom": {"configMapKeyRef": {"name": f"app-{app}", "key": "mode"}},
            }
        ],
    }
    if app % 4:
        container["resources"] = {"requests": {"cpu": f"{50 + app % 5 * 50}m", "memory": "128Mi"}}
        if app % 3 == 0:
            container["resources"]["limits"] = {"memory": "256Mi"}
    if app % 3:
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    if app % 5 in (1, 2):
        container["livenessProbe"] = {"httpGet": {"path": "/live", "port": 8080}}
    if app % 20 == 0:
        container["securityContext"] = {"privileged": True}
    elif app % 2:
        container["securityContext"] = {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
    return container


def _pod_spec(app: int, *, restart: str = "Always") -> Obj:
    containers = [_container(app)]
    if app % 5 == 0:
        sidecar = _container(app + 1, "proxy")
        sidecar["image"] = "registry.example.com/mesh/proxy:2.3.1"
        containers.append(sidecar)
    spec: Obj = {"containers": containers, "restartPolicy": restart}
    if app % 2:
        spec["securityContext"] = {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001}
    if app % 7 == 0:
        spec["serviceAccountName"] = f"app-{app}"
    spec["volumes"] = [{"name": "config", "configMap": {"name": f"app-{app}"}}]
    return spec


def _labels(app: int, name: str) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": name, "app": name}
    if app % 3 == 0:
        labels["app.kubernetes.io/version"] = f"1.{app % 9}"
    return labels


def _pod(
    app: int,
    name: str,
    ns: str,
    labels: dict[str, str],
    owner: list[Obj],
    node: int,
    *,
    restart: str = "Always",
    phase: str = "Running",
) -> Obj:
    pod = _obj("v1", "Pod", name, ns, labels=labels, ownerReferences=owner, uid=f"uid-pod-{name}")
    pod["spec"] = _pod_spec(app, restart=restart) | {"nodeName": f"node-{node}"}
    ready = phase == "Running"
    pod["status"] = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [
            {
                "name": c["name"],
                "ready": ready,
                "restartCount": app % 4 if app % 11 == 0 else 0,
                "image": c["image"],
            }
            for c in pod["spec"]["containers"]
        ],
    }
    return pod


def _companions(
    app: int, name: str, ns: str, labels: dict[str, str], *, headless: bool = False
) -> list[Obj]:
    service = _obj("v1", "Service", name, ns, labels=labels)
    service["spec"] = {
        "selector": {"app": name},
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
    }
    if headless:
        service["spec"]["clusterIP"] = "None"
    config = _obj("v1", "ConfigMap", name, ns) | {"data": {"mode": "production"}}
    secret = _obj("v1", "Secret", f"{name}-credentials", ns) | {
        "type": "Opaque",
        "data": {"token": "c2VjcmV0"},
    }
    found = [service, config, secret]
    if app % 7 == 0:
        found.append(_obj("v1", "ServiceAccount", name, ns))
    return found


def _deployment(app: int, ns: str, nodes: int, live: bool) -> list[Obj]:
    name, labels = f"app-{app}", _labels(app, f"app-{app}")
    replicas = 2 + app % 2
    template = {"metadata": {"labels": labels}, "spec": _pod_spec(app)}
    deployment = _obj(
        "apps/v1", "Deployment", name, ns, labels=labels, uid=f"uid-deployment-{name}"
    )
    deployment["spec"] = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": template,
    }
    found = [deployment, *_companions(app, name, ns, labels)]
    if app % 2:
        hpa = _obj("autoscaling/v2", "HorizontalPodAutoscaler", name, ns)
        hpa["spec"] = cpu_autoscaling(name)
        found.append(hpa)
    else:
        pdb = _obj("policy/v1", "PodDisruptionBudget", name, ns)
        pdb["spec"] = {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}}
        found.append(pdb)
    if app % 3 == 0:
        ingress = _obj("networking.k8s.io/v1", "Ingress", name, ns)
        ingress["spec"] = {
            "ingressClassName": "nginx",
            "tls": [{"hosts": [f"{name}.example.com"], "secretName": f"{name}-tls"}],
            "rules": [
                {
                    "host": f"{name}.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
        }
        found.append(ingress)
    if live:
        rs_name = f"{name}-{app:x}f9c"
        rs_labels = labels | {"pod-template-hash": f"{app:x}f9c"}
        replicaset = _obj(
            "apps/v1",
            "ReplicaSet",
            rs_name,
            ns,
            labels=rs_labels,
            ownerReferences=_owner("Deployment", name),
            uid=f"uid-replicaset-{rs_name}",
        )
        replicaset["spec"] = {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": rs_labels}, "spec": template["spec"]},
        }
        replicaset["status"] = {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        deployment["status"] = {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
        }
        found.append(replicaset)
        for replica in range(replicas):
            found.append(
                _pod(
                    app,
                    f"{rs_name}-{replica:05d}",
                    ns,
                    rs_labels,
                    _owner("ReplicaSet", rs_name),
                    (app + replica) % nodes,
                )
            )
    return found


def _statefulset(app: int, ns: str, nodes: int, live: bool) -> list[Obj]:
    name, labels = f"db-{app}", _labels(app, f"db-{app}")
    replicas = 3
    sts = _obj("apps/v1", "StatefulSet", name, ns, labels=labels, uid=f"uid-statefulset-{name}")
    spec = _pod_spec(app)
    spec["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/var/lib/data"}]
    sts["spec"] = {
        "replicas": replicas,
        "serviceName": name,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": labels}, "spec": spec},
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "10Gi"}},
                },
            }
        ],
    }
    pdb = _obj("policy/v1", "PodDisruptionBudget", name, ns)
    pdb["spec"] = {"minAvailable": 2, "selector": {"matchLabels": {"app": name}}}
    found = [sts, *_companions(app, name, ns, labels, headless=True), pdb]
    if live:
        sts["status"] = {
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
        }
        for ordinal in range(replicas):
            pod = _pod(
                app,
                f"{name}-{ordinal}",
                ns,
                labels,
                _owner("StatefulSet", name),
                (app + ordinal) % nodes,
            )
            pod["spec"]["volumes"].append(
                {"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}-{ordinal}"}}
            )
            found.append(pod)
            claim = _obj(
                "v1", "PersistentVolumeClaim", f"data-{name}-{ordinal}", ns, labels={"app": name}
            )
            claim["spec"] = {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "standard",
                "resources": {"requests": {"storage": "10Gi"}},
            }
            claim["status"] = {"phase": "Bound"}
            found.append(claim)
    return found


def _job_spec(app: int) -> Obj:
    return {
        "backoffLimit": 3,
        "ttlSecondsAfterFinished": 3600 if app % 2 else None,
        "template": {
            "metadata": {"labels": {"job": f"job-{app}"}},
            "spec": _pod_spec(app, restart="Never"),
        },
    }


def _job(app: int, ns: str, nodes: int, live: bool) -> list[Obj]:
    name = f"job-{app}"
    job = _obj("batch/v1", "Job", name, ns, uid=f"uid-job-{name}")
    job["spec"] = {k: v for k, v in _job_spec(app).items() if v is not None}
    found = [job, _obj("v1", "ConfigMap", f"app-{app}", ns) | {"data": {"mode": "batch"}}]
    if live:
        job["status"] = {"succeeded": 1, "completionTime": "2026-01-01T00:00:00Z"}
        found.append(
            _pod(
                app,
                f"{name}-x7k2p",
                ns,
                {"job": name},
                _owner("Job", name, "batch/v1"),
                app % nodes,
                restart="Never",
                phase="Succeeded",
            )
        )
    return found


def _cronjob(app: int, ns: str, nodes: int, live: bool) -> list[Obj]:
    name = f"cron-{app}"
    cron = _obj("batch/v1", "CronJob", name, ns, uid=f"uid-cronjob-{name}")
    job_spec = {k: v for k, v in _job_spec(app).items() if v is not None}
    cron["spec"] = {
        "schedule": f"{app % 60} * * * *",
        "concurrencyPolicy": "Forbid",
        "jobTemplate": {"spec": job_spec},
    }
    found = [cron, _obj("v1", "ConfigMap", f"app-{app}", ns) | {"data": {"mode": "batch"}}]
    if live:
        for run in range(2):
            job_name = f"{name}-2900{run}"
            job = _obj(
                "batch/v1",
                "Job",
                job_name,
                ns,
                ownerReferences=_owner("CronJob", name, "batch/v1"),
                uid=f"uid-job-{job_name}",
            )
            job["spec"] = job_spec
            job["status"] = {"succeeded": 1, "completionTime": "2026-01-01T00:00:00Z"}
            found.append(job)
            found.append(
                _pod(
                    app,
                    f"{job_name}-q8z4m",
                    ns,
                    {"job": job_name},
                    _owner("Job", job_name, "batch/v1"),
                    (app + run) % nodes,
                    restart="Never",
                    phase="Succeeded",
                )
            )
    return found


def _daemonset(app: int, ns: str, nodes: int, live: bool) -> list[Obj]:
    name, labels = f"agent-{app}", _labels(app, f"agent-{app}")
    ds = _obj("apps/v1", "DaemonSet", name, ns, labels=labels, uid=f"uid-daemonset-{name}")
    ds["spec"] = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": labels}, "spec": _pod_spec(app)},
    }
    found = [ds, _obj("v1", "ConfigMap", f"app-{app}", ns) | {"data": {"mode": "agent"}}]
    if live:
        ds["status"] = {
            "desiredNumberScheduled": nodes,
            "numberReady": nodes,
            "numberAvailable": nodes,
        }
        for node in range(nodes):
            found.append(
                _pod(app, f"{name}-{node:05x}", ns, labels, _owner("DaemonSet", name), node)
            )
    return found


def _app(app: int, nodes: int, live: bool) -> list[Obj]:
    ns = f"team-{app % NAMESPACES}"
    if app % 97 == 50 and app < 97 * DAEMONSETS:
        return _daemonset(app, ns, nodes, live)
    kind = app % 20
    if kind < 14:
        return _deployment(app, ns, nodes, live)
    if kind < 16:
        return _statefulset(app, ns, nodes, live)
    if kind < 18:
        return _job(app, ns, nodes, live)
    return _cronjob(app, ns, nodes, live)


def _namespace(n: int) -> list[Obj]:
    ns = f"team-{n}"
    namespace = _obj(
        "v1",
        "Namespace",
        ns,
        labels={"team": f"t{n}", "pod-security.kubernetes.io/enforce": "baseline"},
    )
    policy = _obj("networking.k8s.io/v1", "NetworkPolicy", "default-deny", ns)
    policy["spec"] = {"podSelector": {}, "policyTypes": ["Ingress"]}
    role = _obj("rbac.authorization.k8s.io/v1", "Role", "deployer", ns)
    role["rules"] = [
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "update", "patch"],
        }
    ]
    binding = _obj("rbac.authorization.k8s.io/v1", "RoleBinding", "deployer", ns)
    binding["roleRef"] = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "deployer",
    }
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "deployer", "namespace": ns}]
    return [namespace, policy, role, binding, _obj("v1", "ServiceAccount", "deployer", ns)]


def _cluster(nodes: int) -> list[Obj]:
    found = []
    for node in range(nodes):
        item = _obj(
            "v1",
            "Node",
            f"node-{node}",
            labels={"kubernetes.io/os": "linux", "topology.kubernetes.io/zone": f"zone-{node % 3}"},
        )
        item["status"] = {
            "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "110"},
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.31.2"},
        }
        found.append(item)
    viewer = _obj("rbac.authorization.k8s.io/v1", "ClusterRole", "team-viewer")
    viewer["rules"] = [
        {
            "apiGroups": ["", "apps"],
            "resources": ["pods", "deployments"],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "team-viewer")
    binding["roleRef"] = {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "team-viewer",
    }
    binding["subjects"] = [
        {"kind": "Group", "name": "developers", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    storage = _obj("storage.k8s.io/v1", "StorageClass", "standard") | {
        "provisioner": "ebs.csi.aws.com"
    }
    return [*found, viewer, binding, storage]


def cluster_objects(size: int) -> list[Obj]:
    """Exactly ``size`` objects of a live cluster (see the module docstring)."""
    nodes = max(3, size // NODES_PER_OBJECTS)
    objects = _cluster(nodes)
    for n in range(NAMESPACES):
        objects.extend(_namespace(n))
    app = 0
    while len(objects) < size:
        objects.extend(_app(app, nodes, live=True))
        app += 1
    return objects[:size]


WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"})


def manifest_objects(workloads: int) -> list[Obj]:
    """The manifests of ``workloads`` apps (each one workload and its companions), as a
    repository holds them: nothing that a controller creates."""
    objects: list[Obj] = []
    for n in range(min(NAMESPACES, max(1, workloads // 10))):
        objects.extend(_namespace(n))
    for app in range(workloads):
        objects.extend(_app(app, 3, live=False))
    return objects
