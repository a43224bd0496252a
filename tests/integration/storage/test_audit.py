"""Workflow audit events: exactly-once recording by key, filters, oldest-first listing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, timedelta

from sqlalchemy import func, select

from assay.server.storage.models import AuditEventRow
from assay.server.storage.repository import Repository
from assay.server.workflow.audit import AuditEventType, AuditQuery
from tests.integration.storage.builders import T0, make_audit_event


def test_event_round_trips(repository: Repository) -> None:
    event = make_audit_event()

    assert repository.record_audit(event) is True

    [stored] = repository.list_audit_events(AuditQuery()).items
    assert stored == event
    assert stored.occurred_at.tzinfo is UTC


def test_duplicate_key_returns_false_and_keeps_one_row(repository: Repository) -> None:
    first = make_audit_event("uid-1/completed", message="first")
    retry = make_audit_event("uid-1/completed", message="retried status update")

    assert repository.record_audit(first) is True
    assert repository.record_audit(retry) is False

    assert repository.list_audit_events(AuditQuery()).items == [first]
    with repository.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(AuditEventRow)).scalar()
    assert count == 1


def test_listing_is_oldest_first_with_filters_and_pages(repository: Repository) -> None:
    events = [
        make_audit_event(
            f"uid-{i}/{kind}",
            event_type=kind,
            execution_name=name,
            target=target,
            occurred_at=T0 + timedelta(seconds=i),
        )
        for i, (kind, name, target) in enumerate(
            [
                (AuditEventType.PIPELINERUN_CREATED, "exec-a", "Deployment/shop/web"),
                (AuditEventType.PIPELINERUN_CREATED, "exec-b", "Deployment/shop/db"),
                (AuditEventType.COMPLETED, "exec-a", "Deployment/shop/web"),
                (AuditEventType.FAILED, "exec-b", "Deployment/shop/db"),
                (AuditEventType.LOCK_RELEASED, "exec-b", "Deployment/shop/db"),
            ]
        )
    ]
    for event in reversed(events):  # insertion order must not decide the listing order
        assert repository.record_audit(event)

    def keys(query: AuditQuery) -> list[str]:
        return [e.key for e in repository.list_audit_events(query).items]

    assert keys(AuditQuery()) == [e.key for e in events]
    assert keys(AuditQuery(execution_name="exec-a")) == [events[0].key, events[2].key]
    assert keys(AuditQuery(execution_namespace="kubernaut-workflows", execution_name="exec-b")) == [
        events[1].key,
        events[3].key,
        events[4].key,
    ]
    assert keys(AuditQuery(execution_namespace="elsewhere")) == []
    assert keys(AuditQuery(target="Deployment/shop/web")) == [events[0].key, events[2].key]
    assert keys(AuditQuery(event_type=AuditEventType.FAILED)) == [events[3].key]
    assert keys(AuditQuery(since=T0 + timedelta(seconds=3))) == [events[3].key, events[4].key]

    first = repository.list_audit_events(AuditQuery(limit=2, include_total=True))
    page = repository.list_audit_events(AuditQuery(limit=2, page_token=first.next_page_token))
    assert [e.key for e in page.items] == [events[2].key, events[3].key]
    assert first.total == 5
    by_execution = AuditQuery(execution_namespace="kubernaut-workflows", execution_name="exec-b")
    first = repository.list_audit_events(dataclasses.replace(by_execution, limit=2))
    rest = repository.list_audit_events(
        dataclasses.replace(by_execution, limit=2, page_token=first.next_page_token)
    )
    assert [e.key for e in first.items + rest.items] == [e.key for e in events[1::2]] + [
        events[4].key
    ]
    assert rest.next_page_token == ""
