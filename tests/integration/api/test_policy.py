"""A server started with a policy file: what users see of it over gRPC."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from assay.client.api import AssayClient, ClientError
from assay.server.app import AssayServer
from assay.server.storage.repository import Repository
from assay.v1 import assessment_pb2 as apb
from assay.v1 import common_pb2 as cpb
from tests.integration.api.server_fixtures import ServerThread, server_settings
from tests.integration.api.uploads import start_manifest_run

POLICY = """\
checks:
  SEC-001: {severity: low}
  REL-001: {enabled: false}
  SEC-003: {params: {low_id_threshold: 20000}}
exemptions:
  - checks: [SEC-003]
    namespace: shop
    name: "cart*"
    container: "*"
    reason: vendor image runs as root
"""

APPS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: cart-api, namespace: shop}
spec:
  template:
    spec:
      containers:
        - name: api
          image: shop/cart:1.4
          securityContext: {privileged: true}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: search, namespace: shop}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 15000}
      containers:
        - name: api
          image: shop/search:2.0
"""


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "apps.yaml").write_text(APPS)
    return folder


@pytest.fixture
def client(repository: Repository, tmp_path: Path) -> Iterator[AssayClient]:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    server = AssayServer(server_settings(policy=str(policy)), repository=repository)
    with ServerThread(server) as running, AssayClient(running.target, timeout_s=10) as c:
        yield c


def results(client: AssayClient, run_id: str) -> list[apb.AssessmentResult]:
    request = apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id=run_id), page_size=1000)
    return list(client.list_assessments(request).results)


def run(client: AssayClient, folder: Path, **fields: Any) -> str:
    started = start_manifest_run(client, folder, **fields)
    list(client.watch_run(started.run_id))
    return started.run_id


def test_list_checks_shows_effective_severity_and_leaves_out_disabled_checks(
    client: AssayClient,
) -> None:
    checks = {c.id: c for c in client.list_checks([])}
    assert checks["SEC-001"].severity == cpb.SEVERITY_LOW
    assert checks["SEC-003"].severity == cpb.SEVERITY_HIGH
    assert "REL-001" not in checks


def test_runs_apply_severity_switches_parameters_and_exemptions(
    client: AssayClient, manifests: Path
) -> None:
    found = results(client, run(client, manifests))
    assert "REL-001" not in {r.check_id for r in found}
    [privileged] = [r for r in found if r.check_id == "SEC-001" and r.object.name == "cart-api"]
    assert privileged.status == cpb.STATUS_FAILING
    assert privileged.severity == cpb.SEVERITY_LOW
    root = {r.object.name: r for r in found if r.check_id == "SEC-003"}
    assert root["cart-api"].status == cpb.STATUS_SKIPPED and root["cart-api"].exempted
    assert not root["search"].exempted
    assert "vendor image runs as root" in root["cart-api"].message
    assert "policy policy.yaml:6" in root["cart-api"].message
    # UID 15000 is below the policy's threshold of 20000: a warning, not a pass
    assert root["search"].status == cpb.STATUS_WARNING
    assert "below 20000" in root["search"].message


def test_a_disabled_check_cannot_be_run_alone(client: AssayClient, manifests: Path) -> None:
    with pytest.raises(ClientError) as caught:
        start_manifest_run(client, manifests, check_id="REL-001")
    assert caught.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert "disabled by the policy file" in str(caught.value)


def test_summaries_and_history_count_exemptions_apart(client: AssayClient, manifests: Path) -> None:
    run_id = run(client, manifests)
    summary = client.get_summary(apb.AssessmentQuery(run_id=run_id))
    exempt = [r for r in results(client, run_id) if r.exempted]
    assert summary.counts.exempted == len(exempt) == 1
    assert summary.counts.skipped >= summary.counts.exempted
    [security] = [p for p in summary.pillars if p.pillar == cpb.PILLAR_SECURITY]
    assert security.counts.exempted == 1
    assert client.get_run(run_id).counts.exempted == 1
    [entry] = client.get_history(apb.GetHistoryRequest()).entries
    assert entry.counts.exempted == 1
    skipped_only = client.get_summary(
        apb.AssessmentQuery(run_id=run_id, statuses=[cpb.STATUS_SKIPPED])
    )
    assert skipped_only.counts.exempted == 1
