"""The attacks of an intruder on the same network, each now failing safely.

With nothing but the generated client: reading a Secret through a workflow name that walks
up the URL; making the server read a file or reach another cluster of its kubeconfig;
creating a workflow anonymously, from any registry, as any ServiceAccount; reading
/metrics; and reaching a server that listens everywhere without authentication.
"""

from __future__ import annotations

import dataclasses
import http.client
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from assay.client.api import AssayClient, ClientError, Credentials
from assay.server.auth.settings import AuthSettings
from assay.server.settings import SettingsError, load_settings
from assay.server.storage.repository import Repository
from assay.server.workflow.model import ANNOTATION_REQUESTED_BY, API_VERSION, KIND
from assay.v1 import assessment_pb2 as apb
from assay.v1 import workflow_pb2 as wpb
from tests.integration.api.workflow_fixtures import NS, spec
from tests.integration.auth.harness import (
    READER_TOKEN,
    WRITER,
    WRITER_TOKEN,
    Secured,
    bearer,
    call,
    secured_settings,
    serve,
    with_http,
)
from tests.kubeapi import KubeApiDouble

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
TRAVERSAL = "../../../../../../api/v1/namespaces/kube-system/secrets/x"
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "x", "namespace": "kube-system"},
    "data": {"token": "c2VjcmV0"},
}
WORKFLOWS = wpb.DESCRIPTOR.services_by_name["WorkflowExecutionService"]
ASSESSMENTS = apb.DESCRIPTOR.services_by_name["AssessmentService"]


def violations(error: grpc.RpcError) -> dict[str, str]:
    assert isinstance(error, grpc.Call)
    status = rpc_status.from_call(error)
    assert status is not None
    found: dict[str, str] = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def rpc(
    channel: grpc.Channel, method: MethodDescriptor, request: object, token: str = WRITER_TOKEN
) -> grpc.RpcError:
    path = f"/{method.containing_service.full_name}/{method.name}"
    stub = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString())
    with pytest.raises(grpc.RpcError) as caught:
        stub(request, metadata=bearer(token), timeout=10)
    return caught.value


@pytest.fixture
def cluster(sqlite_repository: Repository, tmp_path: Path) -> Iterator[Secured]:
    api = KubeApiDouble()
    api.seed(SECRET)
    settings = secured_settings(tmp_path, workflows=True, allowed_registries=("quay.io/kubernaut",))
    with serve(sqlite_repository, settings, api=api) as running:
        yield running


def test_a_name_that_walks_up_the_url_reaches_nothing(cluster: Secured) -> None:
    assert cluster.api is not None
    cluster.api.clear_requests()
    with grpc.insecure_channel(cluster.target) as channel:
        get = WORKFLOWS.methods_by_name["Get"]
        error = rpc(channel, get, wpb.GetRequest(namespace=NS, name=TRAVERSAL), READER_TOKEN)
        assert error.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "DNS subdomain" in violations(error)["name"]
        error = rpc(channel, get, wpb.GetRequest(namespace="..", name="x"), READER_TOKEN)
        assert set(violations(error)) == {"namespace"}
        watch = WORKFLOWS.methods_by_name["Watch"]
        request = wpb.WatchRequest(namespace=NS, name="a/../../b")
        code, _ = call(channel, watch, bearer(READER_TOKEN), request)
        assert code is grpc.StatusCode.INVALID_ARGUMENT
    assert not [r for r in cluster.api.requests if "secrets" in r.path]


def test_a_path_in_the_request_is_never_read(sqlite_repository: Repository, tmp_path: Path) -> None:
    manifest = EXAMPLES / "shop" / "cart.yaml"
    names = {d["metadata"]["name"] for d in yaml.safe_load_all(manifest.read_text()) if d}
    with serve(sqlite_repository, secured_settings(tmp_path)) as secured:
        # An old client's StartRun with `path` (field 4, no longer in the schema) and source
        # manifests: refused, the field is an unknown one to the server.
        old_request = apb.StartRunRequest(source=apb.INVENTORY_SOURCE_MANIFESTS)
        raw = old_request.SerializeToString() + b"\x22" + bytes([len(str(manifest))])
        raw += str(manifest).encode()
        with grpc.insecure_channel(secured.target) as channel:
            stub = channel.unary_unary(
                "/assay.v1.AssessmentService/StartRun",
                request_serializer=lambda b: b,
                response_deserializer=apb.StartRunResponse.FromString,
            )
            with pytest.raises(grpc.RpcError) as caught:
                stub(raw, metadata=bearer(WRITER_TOKEN), timeout=10)
        assert "StartManifestRun" in violations(caught.value)["source"]
        # An upload whose file name is a path on the server: the name is a label.
        with AssayClient(secured.target, credentials=Credentials(token=WRITER_TOKEN)) as c:
            run = c.start_manifest_run(apb.StartRunRequest(), [(str(manifest), [b""])])
            final = list(c.watch_run(run.run_id))[-1].run_finished.run
            results = c.list_assessments(
                apb.ListAssessmentsRequest(
                    query=apb.AssessmentQuery(run_id=run.run_id), page_size=1000
                )
            )
    assert final.state == apb.RUN_PHASE_COMPLETED
    assert not {r.object.name for r in results.results} & names


def test_a_context_of_the_servers_kubeconfig_is_refused_unless_allowed(
    sqlite_repository: Repository, tmp_path: Path
) -> None:
    api = KubeApiDouble()
    settings = secured_settings(tmp_path, allowed_contexts=("staging",))
    credentials = Credentials(token=WRITER_TOKEN)
    with (
        serve(sqlite_repository, settings, api=api) as secured,
        AssayClient(secured.target, credentials=credentials) as c,
    ):
        with pytest.raises(ClientError) as caught:
            c.start_run(apb.StartRunRequest(context="prod-admin", check_id="SEC-001"))
        assert caught.value.code is grpc.StatusCode.INVALID_ARGUMENT
        assert "context:" in str(caught.value)
        run = c.start_run(apb.StartRunRequest(context="staging", check_id="SEC-001"))
        list(c.watch_run(run.run_id))
    assert "prod-admin" not in secured.contexts
    assert "staging" in secured.contexts


def test_without_allowed_contexts_a_run_sees_only_the_servers_cluster(
    sqlite_repository: Repository, tmp_path: Path
) -> None:
    credentials = Credentials(token=WRITER_TOKEN)
    with (
        serve(sqlite_repository, secured_settings(tmp_path)) as secured,
        AssayClient(secured.target, credentials=credentials) as c,
        pytest.raises(ClientError) as caught,
    ):
        c.start_run(apb.StartRunRequest(context="default"))
    assert "only its own cluster" in str(caught.value)


def executions(cluster: Secured) -> list[str]:
    assert cluster.api is not None
    objects = cluster.api.list_objects(API_VERSION, KIND)
    return [o["metadata"]["name"] for o in objects]


def test_workflows_are_created_only_by_writers_from_allowed_bundles_as_allowed_accounts(
    cluster: Secured,
) -> None:
    def create(token: str | None, body: wpb.WorkflowExecutionSpec) -> wpb.WorkflowExecution:
        credentials = Credentials(token=token)
        with AssayClient(cluster.target, timeout_s=20, credentials=credentials) as client:
            return client.create_workflow(wpb.CreateRequest(namespace=NS, spec=body))

    for token, code in ((None, "UNAUTHENTICATED"), (READER_TOKEN, "PERMISSION_DENIED")):
        with pytest.raises(ClientError) as caught:
            create(token, spec())
        assert caught.value.code.name == code
    as_admin = spec()
    as_admin.execution_config.service_account_name = "cluster-admin"
    elsewhere = spec()
    elsewhere.workflow_ref.container_image = "evil.example/kubernaut/restart-pods:1.0.0"
    lookalike = spec()
    lookalike.workflow_ref.container_image = "quay.io/kubernaut-x/restart-pods:1.0.0"
    for body, field in (
        (as_admin, "serviceAccountName"),
        (elsewhere, "containerImage"),
        (lookalike, "containerImage"),
    ):
        with pytest.raises(ClientError) as caught:
            create(WRITER_TOKEN, body)
        assert caught.value.code is grpc.StatusCode.PERMISSION_DENIED
        assert field in str(caught.value)
    assert executions(cluster) == []
    created = create(WRITER_TOKEN, spec())
    assert executions(cluster) == [created.name]
    assert cluster.api is not None
    stored = cluster.api.get_object(API_VERSION, KIND, created.name, NS)
    assert stored is not None
    assert stored["metadata"]["annotations"][ANNOTATION_REQUESTED_BY] == WRITER


def test_metrics_need_a_token(sqlite_repository: Repository, tmp_path: Path) -> None:
    with serve(sqlite_repository, with_http(secured_settings(tmp_path))) as secured:
        connection = http.client.HTTPConnection("127.0.0.1", secured.server.metrics_port)
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        assert (response.status, response.getheader("WWW-Authenticate")) == (401, "Bearer")
        assert b"assay_" not in response.read()
        connection.close()


def test_a_server_without_authentication_listens_only_on_loopback() -> None:
    with pytest.raises(SettingsError, match=r"ASSAY_LISTEN \(--listen\): 0\.0\.0\.0 is not"):
        load_settings({"ASSAY_LISTEN": "0.0.0.0:50051"})
    settings = load_settings({"ASSAY_LISTEN": "0.0.0.0:50051", "ASSAY_TOKEN_REVIEW": "true"})
    assert settings.auth == dataclasses.replace(AuthSettings(), token_review=True)
