"""Keyset pages over the small tables (runs, history, audit events), with page tokens.

The Repository's ``list_runs``, ``history`` and ``list_audit_events`` describe a listing as
equality/range conditions plus a sort key that an index ends with; :func:`keyset_page` reads
``limit + 1`` rows after the token's position and issues the token of the next page. The
results table has its own, hand-built path (``storage.results``) because it is the hot one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, bindparam, func, select, tuple_
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import InstrumentedAttribute

from assay.server.core.types import Page
from assay.server.storage.models import Base, UTCDateTime
from assay.server.storage.tokens import PageTokens, fingerprint

T = TypeVar("T")


@dataclass(frozen=True)
class Listing:
    """One paged listing: its name (tokens of one listing are refused by another), its
    table, the sort key (unique, ending every index the filters use) and its direction."""

    name: str
    model: type[Base]
    key: tuple[InstrumentedAttribute[Any], ...]
    descending: bool


@dataclass(frozen=True)
class PageRequest:
    filters: Sequence[Any]  # the query's filters, JSON-able, canonical order
    conditions: Sequence[ColumnElement[bool]]
    limit: int
    page_token: str
    include_total: bool


def keyset_page(
    connection: Connection,
    tokens: PageTokens,
    listing: Listing,
    request: PageRequest,
    convert: Callable[[RowMapping], T],
) -> Page[T]:
    query_key = fingerprint([listing.name, *request.filters])
    conditions = list(request.conditions)
    if request.page_token:
        position = tokens.read(request.page_token, listing.name, query_key)
        if len(position) != len(listing.key):
            raise AssertionError("a verified token carries a position of the listing's key")
        after = tuple_(
            *(
                bindparam(None, _from_json(column, value), type_=column.type)
                for column, value in zip(listing.key, position, strict=True)
            )
        )
        key = tuple_(*listing.key)
        conditions.append(key < after if listing.descending else key > after)
    order = [c.desc() if listing.descending else c.asc() for c in listing.key]
    statement = select(listing.model).where(*conditions).order_by(*order).limit(request.limit + 1)
    rows = list(connection.execute(statement).mappings())
    token = ""
    if len(rows) > request.limit:
        rows = rows[: request.limit]
        last = rows[-1]
        position = [_to_json(last[column.key]) for column in listing.key]
        token = tokens.issue(listing.name, query_key, position)
    total = None
    if request.include_total:
        counted = select(func.count()).select_from(listing.model).where(*request.conditions)
        total = connection.execute(counted).scalar_one()
    return Page(items=[convert(row) for row in rows], total=total, next_page_token=token)


def _to_json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _from_json(column: InstrumentedAttribute[Any], value: Any) -> Any:
    if isinstance(column.type, UTCDateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value
