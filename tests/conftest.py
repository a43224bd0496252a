"""Fixtures shared across the suite, provided by plugin modules next to what they serve."""

pytest_plugins = [
    "tests.integration.storage.backends",
    "tests.integration.kube.fixtures",
    "tests.integration.api.server_fixtures",
    "tests.integration.api.workflow_fixtures",
    "tests.kubeapi.fixtures",
    "tests.unit.assessment.fakes",
    "tests.pgcluster",
]
