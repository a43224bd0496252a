"""String `format`s the API server checks in custom resources (kube-openapi's registry).

`schema_validation.py` asks `format_matches(name, value)` for every string whose schema
names a format; formats not listed here are accepted unchecked, as the API server accepts
formats it does not know.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from datetime import date

_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# strfmt.IsDateTime: a date, `T`, hh:mm:ss, optional fraction, then `Z` or an offset.
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(\.\d+)?(z|[+-]\d{2}:\d{2})$")
_HOSTNAME_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", re.IGNORECASE)
_UUID = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE
)
_MAC = re.compile(r"^([0-9a-f]{2}([:-]))([0-9a-f]{2}\2){4}[0-9a-f]{2}$", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^\d+\s*(s|m|h|d|w)\w*$")


def _is_date(value: str) -> bool:
    match = _DATE.match(value)
    if match is None:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _is_date_time(value: str) -> bool:
    day, sep, clock = value.lower().partition("t")
    if not sep or not _is_date(day):
        return False
    match = _TIME.match(clock)
    if match is None:
        return False
    hour, minute, second = (int(part) for part in match.groups()[:3])
    return hour < 24 and minute < 60 and second < 61  # 60: a leap second


def _is_hostname(value: str) -> bool:
    labels = value.rstrip(".").split(".")
    return len(value) <= 255 and all(
        len(label) <= 63 and _HOSTNAME_LABEL.match(label) for label in labels
    )


def _is_byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _parses(parser: Callable[[str], object]) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            parser(value)
        except ValueError:
            return False
        return True

    return check


def _uuid_version(version: str | None) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        match = _UUID.match(value)
        return match is not None and (version is None or match.group(1) == version)

    return check


FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "date": _is_date,
    "byte": _is_byte,
    "hostname": _is_hostname,
    "ipv4": _parses(ipaddress.IPv4Address),
    "ipv6": _parses(ipaddress.IPv6Address),
    "cidr": _parses(lambda text: ipaddress.ip_network(text, strict=False)),
    "mac": lambda value: _MAC.match(value) is not None,
    "email": lambda value: _EMAIL.match(value) is not None,
    "duration": lambda value: _DURATION.match(value) is not None,
    "uuid": _uuid_version(None),
    "uuid3": _uuid_version("3"),
    "uuid4": _uuid_version("4"),
    "uuid5": _uuid_version("5"),
}


def format_matches(name: str, value: str) -> bool:
    check = FORMATS.get(name)
    return check is None or check(value)
