"""TokenReview and SubjectAccessReview for the test double: create-only, never stored.

Tests declare who the cluster knows with `KubeApiDouble.reviews`: `accept_token` (a token
and the user, groups and audiences it stands for; `revoke_token` forgets it) and
`allow_non_resource` (an RBAC rule letting a user or a group use a verb on a non-resource
URL such as /metrics). A review is answered as the API server answers it: the spec echoed,
`status.authenticated` with the user (and the audiences the token shares with the request,
or the API server's own when the request names none), `status.allowed` from the rules.
Every review is an HTTP request the double records, so a test can count what a cache
saved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from .jsonutil import JsonObject
from .status import ApiError, invalid, required

API_SERVER_AUDIENCES = ("https://kubernetes.default.svc.cluster.local",)
AUTHENTICATION_GROUP = "authentication.k8s.io"
AUTHORIZATION_GROUP = "authorization.k8s.io"


@dataclass(frozen=True)
class TokenHolder:
    username: str
    uid: str
    groups: tuple[str, ...]
    audiences: tuple[str, ...]


@dataclass(frozen=True)
class NonResourceRule:
    path: str  # exact, or a prefix ending in '*'
    verb: str
    user: str | None
    group: str | None

    def matches(self, user: str, groups: Iterable[str], path: str, verb: str) -> bool:
        subject = (self.user is not None and self.user == user) or (
            self.group is not None and self.group in groups
        )
        wildcard = self.path.endswith("*")
        path_ok = path.startswith(self.path[:-1]) if wildcard else path == self.path
        return subject and path_ok and self.verb in (verb, "*")


class Reviews:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenHolder] = {}
        self._rules: list[NonResourceRule] = []

    # -- arranging ---------------------------------------------------------------------

    def accept_token(
        self,
        token: str,
        *,
        user: str,
        groups: Iterable[str] = (),
        uid: str = "",
        audiences: Iterable[str] = API_SERVER_AUDIENCES,
    ) -> None:
        holder = TokenHolder(user, uid or f"uid-{user}", tuple(groups), tuple(audiences))
        with self._lock:
            self._tokens[token] = holder

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def allow_non_resource(
        self, path: str, *, verb: str = "get", user: str | None = None, group: str | None = None
    ) -> None:
        if (user is None) == (group is None):
            raise ValueError("a rule names a user or a group")
        with self._lock:
            self._rules.append(NonResourceRule(path, verb, user, group))

    # -- answering ---------------------------------------------------------------------

    def answer(self, group: str, body: JsonObject) -> JsonObject:
        if group == AUTHENTICATION_GROUP:
            return self.token_review(body)
        return self.subject_access_review(body)

    def token_review(self, body: JsonObject) -> JsonObject:
        spec = _spec(body)
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise invalid("TokenReview", AUTHENTICATION_GROUP, "", [required("spec.token")])
        wanted = tuple(spec.get("audiences") or ())
        with self._lock:
            holder = self._tokens.get(token)
        status: JsonObject = {"user": {}}
        if holder is None:
            status.update(authenticated=False, error="invalid bearer token")
        else:
            shared = [a for a in (wanted or API_SERVER_AUDIENCES) if a in holder.audiences]
            if not shared:
                status.update(
                    authenticated=False,
                    error="token audiences are invalid for the target audiences",
                )
            else:
                status.update(
                    authenticated=True,
                    audiences=shared,
                    user={
                        "username": holder.username,
                        "uid": holder.uid,
                        "groups": list(holder.groups),
                    },
                )
        return _answer(body, "TokenReview", AUTHENTICATION_GROUP, spec, status)

    def subject_access_review(self, body: JsonObject) -> JsonObject:
        spec = _spec(body)
        user = spec.get("user") or ""
        groups = spec.get("groups") or []
        attributes = spec.get("nonResourceAttributes")
        if not user and not groups:
            raise invalid(
                "SubjectAccessReview",
                AUTHORIZATION_GROUP,
                "",
                [required("spec.user", "at least one of user or group must be specified")],
            )
        if not isinstance(attributes, dict) or spec.get("resourceAttributes"):
            # The double answers non-resource reviews only; nothing in Assay asks others.
            raise ApiError(422, "the test double reviews nonResourceAttributes only")
        path, verb = str(attributes.get("path", "")), str(attributes.get("verb", ""))
        with self._lock:
            allowed = any(rule.matches(user, groups, path, verb) for rule in self._rules)
        status: JsonObject = {"allowed": allowed}
        if allowed:
            status["reason"] = "allowed by a rule of the test double"
        return _answer(body, "SubjectAccessReview", AUTHORIZATION_GROUP, spec, status)


def _spec(body: JsonObject) -> JsonObject:
    spec = body.get("spec")
    return spec if isinstance(spec, dict) else {}


def _answer(
    body: JsonObject, kind: str, group: str, spec: JsonObject, status: JsonObject
) -> JsonObject:
    return {
        "apiVersion": body.get("apiVersion") or f"{group}/v1",
        "kind": kind,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": status,
    }
