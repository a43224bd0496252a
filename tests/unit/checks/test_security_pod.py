"""SEC-002, SEC-004..SEC-008: security-context checks, their parameters (policy file and
build_params) and the edge cases the fixtures do not show."""

from __future__ import annotations

import pytest

from assay.server.checks.kit.params import ParamError, build_params
from assay.server.checks.kit.podspec import is_windows
from assay.server.checks.security.kernel import (
    SAFE_SYSCTLS,
    DangerousCapabilityParams,
    DropParams,
    KernelParams,
    sysctl_name,
)
from assay.server.core.types import Status
from tests.unit.checks.objects import container, deployment, pod
from tests.unit.checks.runs import container_statuses, only, policy_params, run


def test_sec002_windows_pods_by_node_selector_are_not_judged() -> None:
    spec = {"nodeSelector": {"kubernetes.io/os": "windows"}, "containers": [container()]}
    assert is_windows(spec)
    finding = only(run("SEC-002", [pod("iis", spec=spec)]))
    assert finding.status is Status.SKIPPED and "Linux pods" in finding.message


def test_sec005_default_list_and_policy_override() -> None:
    assert DangerousCapabilityParams().capabilities == {
        "ALL",
        "SYS_ADMIN",
        "NET_ADMIN",
        "SYS_PTRACE",
        "SYS_MODULE",
        "BPF",
    }
    spec = {
        "containers": [
            container("a", securityContext={"capabilities": {"add": ["SYS_RAWIO"]}}),
            container("b", securityContext={"capabilities": {"add": ["bpf"]}}),
        ]
    }
    objects = [pod("p", spec=spec)]
    assert container_statuses(run("SEC-005", objects)) == {
        ("p", "a"): Status.PASSING,
        ("p", "b"): Status.FAILING,
    }
    params = policy_params("SEC-005", "capabilities: [CAP_SYS_RAWIO]")
    assert params == DangerousCapabilityParams(capabilities=frozenset({"CAP_SYS_RAWIO"}))
    assert container_statuses(run("SEC-005", objects, params=params)) == {
        ("p", "a"): Status.FAILING,
        ("p", "b"): Status.PASSING,
    }


def test_sec005_parameter_type_is_checked() -> None:
    with pytest.raises(ParamError, match="capabilities: expected a list of strings"):
        build_params(DangerousCapabilityParams, {"capabilities": "SYS_ADMIN"})


def test_sec006_require_all_false_accepts_the_minimum() -> None:
    spec = {
        "containers": [
            container("raw-dropped", securityContext={"capabilities": {"drop": ["net_raw"]}}),
            container("nothing-dropped"),
        ]
    }
    objects = [pod("p", spec=spec)]
    default = container_statuses(run("SEC-006", objects))
    assert set(default.values()) == {Status.FAILING}
    relaxed = policy_params("SEC-006", "require_all: false")
    assert relaxed == DropParams(require_all=False)
    assert container_statuses(run("SEC-006", objects, params=relaxed)) == {
        ("p", "raw-dropped"): Status.PASSING,
        ("p", "nothing-dropped"): Status.FAILING,
    }
    stricter = build_params(DropParams, {"require_all": False, "minimum": ["NET_RAW", "SETUID"]})
    finding = run("SEC-006", objects, params=stricter)[0]
    assert finding.status is Status.FAILING and "SETUID not dropped" in finding.message


def test_sec007_unconfined_seccomp_with_apparmor_is_a_warning() -> None:
    spec = {
        "containers": [
            container(
                securityContext={
                    "seccompProfile": {"type": "Unconfined"},
                    "appArmorProfile": {"type": "RuntimeDefault"},
                }
            )
        ]
    }
    finding = only(run("SEC-007", [pod("p", spec=spec)]))
    assert finding.status is Status.WARNING and "seccompProfile is Unconfined" in finding.message


def test_sec007_pod_level_apparmor_is_inherited_and_unconfined_annotation_fails() -> None:
    spec = {
        "securityContext": {"appArmorProfile": {"type": "RuntimeDefault"}},
        "containers": [container("a")],
    }
    assert only(run("SEC-007", [pod("p", spec=spec)])).status is Status.PASSING
    annotated = deployment("d", container("a"))
    annotated["spec"]["template"]["metadata"]["annotations"] = {
        "container.apparmor.security.beta.kubernetes.io/a": "unconfined"
    }
    finding = only(run("SEC-007", [annotated]))
    assert finding.status is Status.FAILING and "appArmorProfile is Unconfined" in finding.message


@pytest.mark.parametrize(
    ("written", "dotted"),
    [
        ("net.ipv4.tcp_syncookies", "net.ipv4.tcp_syncookies"),
        ("net/ipv4/tcp_syncookies", "net.ipv4.tcp_syncookies"),
        ("net/ipv4/conf/eth0.100/rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
        ("net.ipv4.conf.eth0/100.rp_filter", "net.ipv4.conf.eth0/100.rp_filter"),
    ],
)
def test_sec008_sysctl_names_in_both_notations(written: str, dotted: str) -> None:
    assert sysctl_name(written) == dotted


def test_sec008_safe_set_is_the_kubelet_one_and_patterns_extend_it() -> None:
    assert len(SAFE_SYSCTLS) == 12 and "net.ipv4.tcp_wmem" in SAFE_SYSCTLS
    spec = {
        "securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]},
        "containers": [container()],
    }
    objects = [pod("p", spec=spec)]
    assert only(run("SEC-008", objects)).status is Status.FAILING
    params = policy_params("SEC-008", "safe_sysctls: [kernel.shm_rmid_forced, 'kernel.msg*']")
    assert params == KernelParams(safe_sysctls=frozenset({"kernel.shm_rmid_forced", "kernel.msg*"}))
    assert only(run("SEC-008", objects, params=params)).status is Status.PASSING


def test_sec008_ephemeral_container_with_unmasked_proc_is_named() -> None:
    spec = {
        "containers": [container("app")],
        "ephemeralContainers": [{"name": "debug", "securityContext": {"procMount": "Unmasked"}}],
    }
    finding = only(run("SEC-008", [pod("p", spec=spec)]))
    assert finding.status is Status.FAILING
    assert finding.message == "ephemeral container debug sets procMount: Unmasked"
