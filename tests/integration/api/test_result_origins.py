"""Results of manifest runs carry their object's origin (file as uploaded, line), stored and
listed over gRPC; the server treats the name as a label and never opens it."""

from __future__ import annotations

import io

from assay.client.api import AssayClient
from assay.v1 import assessment_pb2 as apb
from tests.integration.api.test_runs import follow

TWO_DOCUMENTS = b"""\
apiVersion: v1
kind: ConfigMap
metadata: {name: first, namespace: shop}
---
# a comment line
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
"""


def _results(client: AssayClient, run_id: str) -> list[apb.AssessmentResult]:
    request = apb.ListAssessmentsRequest(query=apb.AssessmentQuery(run_id=run_id), page_size=1000)
    page = client.list_assessments(request)
    found = list(page.results)
    while page.next_page_token:
        request.page_token = page.next_page_token
        page = client.list_assessments(request)
        found.extend(page.results)
    return found


def test_results_carry_the_file_and_line_of_their_object(client: AssayClient) -> None:
    # A name that would escape a directory if it were ever used as a path: a label only.
    name = "../../etc/deploy.yaml"
    run = client.start_manifest_run(
        apb.StartRunRequest(check_id="SEC-001"), [(name, io.BytesIO(TWO_DOCUMENTS))]
    )
    assert follow(client, run.run_id)[-1].run_finished.run.state == apb.RUN_PHASE_COMPLETED
    results = _results(client, run.run_id)
    about_web = [r for r in results if r.object.name == "web"]
    assert about_web
    for r in about_web:
        assert r.HasField("origin")
        assert (r.origin.path, r.origin.line) == (name, 6)
    again = client.get_assessment(about_web[0].id)
    assert (again.origin.path, again.origin.line) == (name, 6)


def test_results_about_no_object_have_no_origin(client: AssayClient) -> None:
    run = client.start_manifest_run(
        apb.StartRunRequest(check_id="SEC-001"),
        [("only.yaml", io.BytesIO(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"))],
    )
    follow(client, run.run_id)
    results = _results(client, run.run_id)
    assert results and all(not r.HasField("origin") for r in results if not r.object.kind)
