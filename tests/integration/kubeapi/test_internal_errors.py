"""An unexpected exception inside the double is a 500 to the client and a failure of the
test that used the double, with the traceback, however the double was created."""

from __future__ import annotations

import kubernetes.aio.client as aio
import kubernetes.client as k8s
import pytest

from tests.kubeapi import DoubleFailed, InternalError, KubeApiDouble
from tests.kubeapi.store import StoredEvent

from .manifests import config_map
from .typed import as_body, status_of

pytest_plugins = ["pytester"]


def broken_subscriber(event: StoredEvent) -> None:
    """A store subscriber with a bug: every write fails inside the handler."""
    raise ZeroDivisionError(f"subscriber bug on {event.type}")


async def test_leaving_the_double_raises_with_the_traceback() -> None:
    with pytest.raises(DoubleFailed) as failed:
        async with KubeApiDouble() as api:
            api.store.subscribe(broken_subscriber)
            async with aio.ApiClient(api.aio_configuration()) as client:
                with pytest.raises(aio.ApiException) as error:
                    await aio.CoreV1Api(client).create_namespaced_config_map(
                        "default", as_body(config_map("c"), aio.V1ConfigMap)
                    )
            assert error.value.status == 500
            assert "subscriber bug" in status_of(error.value)["message"]
    [recorded] = failed.value.errors
    assert (recorded.method, recorded.path) == ("POST", "/api/v1/namespaces/default/configmaps")
    message = str(failed.value)
    assert "POST /api/v1/namespaces/default/configmaps" in message
    assert "Traceback (most recent call last)" in message
    assert "in broken_subscriber" in message
    assert "ZeroDivisionError: subscriber bug on ADDED" in message


def test_threaded_double_raises_too_and_api_errors_do_not_count() -> None:
    with (
        pytest.raises(DoubleFailed, match="ZeroDivisionError"),
        KubeApiDouble.run_in_thread() as api,
        k8s.ApiClient(api.client_configuration()) as client,
    ):
        v1 = k8s.CoreV1Api(client)
        api.inject(method="GET", status=500)  # injected faults are the test's own doing
        with pytest.raises(k8s.ApiException):
            v1.read_namespace("default")
        with pytest.raises(k8s.ApiException):
            v1.read_namespace("missing")  # an ordinary 404
        api.check_internal_errors()
        api.store.subscribe(broken_subscriber)
        with pytest.raises(k8s.ApiException):
            v1.create_namespaced_config_map("default", as_body(config_map("c"), k8s.V1ConfigMap))


async def test_an_exception_already_leaving_keeps_priority() -> None:
    with pytest.raises(KeyError) as error:
        async with KubeApiDouble() as api:
            # As the middleware records one.
            api.internal_errors.append(InternalError("GET", "/x", "Traceback: boom"))
            raise KeyError("the test's own failure")
    assert any("Traceback: boom" in note for note in error.value.__notes__)


def test_the_fixtures_fail_the_test_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('pytest_plugins = ["tests.kubeapi.fixtures"]')
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import kubernetes.client as k8s
        import pytest

        def explode(event):
            raise RuntimeError("bug in the double")

        def test_retries_hide_the_500(kube_api_thread, kube_sync_client):
            kube_api_thread.store.subscribe(explode)
            v1 = k8s.CoreV1Api(kube_sync_client)
            with pytest.raises(k8s.ApiException):
                v1.create_namespace({"metadata": {"name": "x"}})
            # The code under test "handled" the 500, so the test body passes...

        def test_clean(kube_api_thread, kube_sync_client):
            k8s.CoreV1Api(kube_sync_client).create_namespace({"metadata": {"name": "y"}})
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    # ...but its teardown does not.
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_retries_hide_the_500*",
            "*DoubleFailed: the kube API double failed internally 1 time(s)*",
            "*POST /api/v1/namespaces*",
            "*RuntimeError: bug in the double*",
        ]
    )
