"""Credential heuristics shared by the hard-coded secret checks (SEC-016, SEC-018).

A value is suspect when it has the shape of a known credential (a PEM private key, a cloud or
forge token, a JWT, a URL with a password), when its name says it holds one (a word of the
name such as PASSWORD or TOKEN, unless the last word only describes it, ``SECRET_NAME``,
``TOKEN_TTL``, or the value is an absolute file path, ``TLS_KEY=/etc/tls/tls.key``), or when
it looks like a random token (no spaces, letters and digits, Shannon entropy above a
threshold). Reasons never quote the value: :func:`masked` describes it.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from assay.server.checks.kit import param

ENTROPY_MAX_LENGTH = 256
"""Longer single-token values are blobs (certificates, compressed data), not passwords."""
MAX_LISTED = 5

_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_\-.~]+")
_HEX = re.compile(r"[0-9a-fA-F]+")
_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\{[^{}]*\}|\{\{[^{}]*\}\}")
_TRIVIAL = frozenset(
    {"true", "false", "yes", "no", "on", "off", "null", "none", "enabled", "disabled"}
)
# Every pattern can only start where its token starts (a lookbehind rules out positions
# inside a run of the same characters) and quantifiers are possessive, so a hostile 1 MiB
# value is scanned in linear time.
_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a PEM private key", re.compile(r"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY( BLOCK)?-----")),
    ("an AWS access key id", re.compile(r"(?<![0-9A-Z])(AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])")),
    ("a GitHub token", re.compile(r"(?<!\w)(gh[pousr]_[A-Za-z0-9]{36}|github_pat_\w{22})")),
    ("a GitLab token", re.compile(r"(?<!\w)glpat-[A-Za-z0-9_\-]{20}")),
    ("a Slack token", re.compile(r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10}")),
    ("a Google API key", re.compile(r"(?<![\w\-])AIza[0-9A-Za-z_\-]{35}(?![\w\-])")),
    ("a Stripe secret key", re.compile(r"(?<!\w)[sr]k_live_[0-9A-Za-z]{16}")),
    (
        "a JSON Web Token",
        re.compile(r"(?<![\w\-])eyJ[\w\-]{8,}+\.eyJ[\w\-]{8,}+\.[\w\-]*+"),
    ),
    (
        "a URL with an embedded password",
        re.compile(r"(?<![\w+.\-])[a-zA-Z][\w+.\-]*+://[^/\s:@]++:[^/\s@]++@"),
    ),
)
_KEY_FILES = re.compile(r"(^|/)(id_(rsa|dsa|ecdsa|ed25519))$|\.(jks|p12|pfx|keystore|kdbx)$")
_CONFIG_FILE = re.compile(
    r"\.(json|ya?ml|conf|cfg|cnf|ini|properties|toml|xml|env|txt|sh|py|lua|js|tpl|tmpl|html"
    r"|sql|hcl|rules|policy)$",
    re.IGNORECASE,
)
# An absolute path of two or more components: where a credential is read from (TLS_KEY=
# /etc/tls/tls.key), which a credential word in the name does not make a credential.
_FILE_PATH = re.compile(r"(?:/[\w.\-]++){2,}+")
_ASSIGNMENT = re.compile(r"""\s*(?:export\s+)?["']?([A-Za-z_][\w.\-]*+)["']?\s*+[:=](.*)""")


@dataclass(frozen=True)
class CredentialParams:
    name_words: frozenset[str] = param(
        frozenset(
            {
                "PASSWORD",
                "PASSWD",
                "PASSPHRASE",
                "SECRET",
                "TOKEN",
                "KEY",
                "APIKEY",
                "CREDENTIAL",
                "CREDENTIALS",
            }
        ),
        "words of a name (split at _ - . and camelCase, any case) that mark a credential; "
        "words of six letters or more also match inside a longer word (DBPASSWORD)",
    )
    descriptive_words: frozenset[str] = param(
        frozenset(
            {
                "ALGORITHM",
                "ARN",
                "COMMIT",
                "COUNT",
                "DIGEST",
                "DIR",
                "ENABLED",
                "ENDPOINT",
                "EXPIRY",
                "FILE",
                "FORMAT",
                "HASH",
                "HEADER",
                "HOST",
                "ID",
                "INTERVAL",
                "ISSUER",
                "LENGTH",
                "LOCATION",
                "MODE",
                "NAME",
                "PATH",
                "PORT",
                "PREFIX",
                "REF",
                "REGION",
                "REVISION",
                "ROTATION",
                "SECONDS",
                "SHA",
                "SIZE",
                "TIMEOUT",
                "TTL",
                "TYPE",
                "URI",
                "URL",
                "USER",
                "USERNAME",
                "VERSION",
            }
        ),
        "last words of a name that describe a credential rather than hold it (SECRET_NAME, "
        "TOKEN_TTL, KEY_FILE): such names are judged by the value's shape only",
    )
    entropy_threshold: float = param(
        4.0,
        "bits per character above which a token-like value (no spaces, letters and digits) "
        "counts as random; hex-only values are held to two thirds of it (their alphabet "
        "carries 4 bits per character instead of 6)",
    )
    min_entropy_length: int = param(20, "shorter values are never judged by their entropy")


def name_words(name: str) -> list[str]:
    """``dbPassword`` -> ``[DB, PASSWORD]``; ``api-key.v2`` -> ``[API, KEY, V, 2]``."""
    return [w.upper() for w in _WORD.findall(name)]


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def masked(value: str) -> str:
    """How a message shows a suspect value: never any of its characters."""
    return f"value masked, {len(value)} characters"


def trivial(value: str) -> bool:
    """Cannot be a secret: empty, a boolean or number, or only variable references."""
    text = value.strip().strip("'\"")
    if not text or text.lower() in _TRIVIAL:
        return True
    if _REFERENCE.sub("", text).strip() == "":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Heuristics:
    """:class:`CredentialParams` prepared for matching."""

    words: frozenset[str]
    long_words: tuple[str, ...]
    descriptive: frozenset[str]
    threshold: float
    min_length: int

    @classmethod
    def of(cls, params: CredentialParams) -> Heuristics:
        words = frozenset(w.upper() for w in params.name_words)
        return cls(
            words,
            tuple(sorted(w for w in words if len(w) >= 6)),
            frozenset(w.upper() for w in params.descriptive_words),
            params.entropy_threshold,
            params.min_entropy_length,
        )

    def describes(self, name: str) -> bool:
        """The name's last word only describes a credential (SECRET_NAME)."""
        words = name_words(name)
        return bool(words) and words[-1] in self.descriptive

    def name_reason(self, name: str) -> str | None:
        if self.describes(name):
            return None
        for word in name_words(name):
            if word in self.words:
                return f"its name contains {word}"
            inner = next((w for w in self.long_words if w in word), None)
            if inner:
                return f"its name contains {inner}"
        if _KEY_FILES.search(name.lower()):
            return "it is named like a key file"
        return None

    def format_reason(self, value: str) -> str | None:
        for label, pattern in _FORMATS:
            if pattern.search(value):
                return f"the value is {label}"
        return None

    def entropy_reason(self, value: str) -> str | None:
        text = value.strip()
        if not self.min_length <= len(text) <= ENTROPY_MAX_LENGTH:
            return None
        if not _TOKEN_LIKE.fullmatch(text) or text.startswith("/"):
            return None
        if not (any(c.isdigit() for c in text) and any(c.isalpha() for c in text)):
            return None
        bits = shannon_entropy(text)
        threshold = self.threshold * 4 / 6 if _HEX.fullmatch(text) else self.threshold
        if bits >= threshold:
            return f"the value looks random, {bits:.1f} bits per character"
        return None

    def judge(self, name: str, value: str) -> str | None:
        """Why ``name = value`` looks like a hard-coded credential, or ``None``."""
        reason = self.format_reason(value)
        if reason or trivial(value):
            return reason
        if _FILE_PATH.fullmatch(value.strip()):
            return None
        reason = self.name_reason(name)
        if reason or self.describes(name):
            return reason
        return self.entropy_reason(value)


def config_file(name: str) -> bool:
    """A ConfigMap key named like a configuration file: judged by its content, not its name
    (``password-policy.json`` holds a policy, not a password)."""
    return bool(_CONFIG_FILE.search(name))


def assignments(text: str) -> Iterator[tuple[int, str, str]]:
    """``key = value`` / ``key: value`` / ``"key": "value"`` lines of a configuration file:
    (line number, key, value without quotes)."""
    for number, line in enumerate(text.splitlines(), start=1):
        match = _ASSIGNMENT.match(line)
        if match is None:
            continue
        value = match.group(2).strip().removesuffix(",").strip().strip("'\"")
        if value:
            yield number, match.group(1), value


def decoded(value: str, limit: int = 1 << 20) -> str:
    """A ``binaryData`` value decoded as text (undecodable bytes dropped); empty when it is
    not base64 or longer than ``limit``."""
    if len(value) > limit:
        return ""
    try:
        return base64.b64decode(value, validate=False).decode("utf-8", errors="ignore")
    except (binascii.Error, ValueError):
        return ""


def listed(items: list[str]) -> str:
    """The first few items joined by ``; ``, with how many were left out."""
    text = "; ".join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        text += f"; and {len(items) - MAX_LISTED} more"
    return text
