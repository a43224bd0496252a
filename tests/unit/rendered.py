"""deploy/ as a cluster would receive it, and the image it runs: what test_deploy,
test_deploy_access and test_image read.

The manifests are rendered by ``kubectl kustomize`` (the kustomize built into kubectl;
the development extras install it on Linux), never by code of ours; the Dockerfile
is read by the ``dockerfile`` package, BuildKit's own parser. Both are read once per test
process::

    rendered("overlays/postgres").one("Deployment", "assay")    # the rendered object
    effective_settings(variant, tmp_path)                        # what the pod's server runs
    IMAGE.entrypoint, IMAGE.env, IMAGE.user                      # the final stage
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dockerfile  # type: ignore[import-not-found]  # compiled, without type information
import typer
import yaml

from assay.client.cli.main import app
from assay.server.settings import Settings, load_settings, options
from tests.certificates import TestCA

ROOT = Path(__file__).parents[2]
DEPLOY = ROOT / "deploy"
VARIANTS = (".", "overlays/postgres", "overlays/tls")
"""What deploy/ offers: the base (``kubectl apply -k deploy/``) and each overlay."""
SERVER = "assay"
"""The Deployment, its container, its ServiceAccount and its Service."""
SERVER_NAMESPACE = "kubernaut-system"
POD_NAME = "assay-6d5f7c9b8-x2x9k"
SECRET_VALUES = {
    ("assay-database", "url"): "postgresql://assay:pw@postgres.databases.svc:5432/assay",
}
"""What the Secrets that env variables refer to hold in a cluster (created by the operator)."""


def _tls_secret(directory: Path) -> None:
    TestCA().server().write(directory / "tls.crt", directory / "tls.key")


SECRET_FILES: dict[str, Callable[[Path], None]] = {"assay-tls": _tls_secret}
"""Writes what each mounted Secret holds into a directory, as the kubelet would."""


def kubectl() -> str:
    found = shutil.which("kubectl")
    assert found, "kubectl is needed to render deploy/ (the development extras install it on Linux)"
    return found


@functools.cache
def kustomize_version() -> tuple[int, ...]:
    out = subprocess.run(
        [kubectl(), "version", "--client", "--output=json"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    version = str(json.loads(out)["kustomizeVersion"])
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


@dataclass(frozen=True)
class Rendered:
    variant: str
    text: str
    objects: tuple[dict[str, Any], ...]

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o.get("kind") == kind]

    def one(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = [
            o
            for o in self.all(kind)
            if o["metadata"]["name"] == name
            and (namespace is None or o["metadata"].get("namespace") == namespace)
        ]
        assert len(found) == 1, f"{self.variant}: {len(found)} {kind} named {name}"
        return found[0]

    @property
    def deployment(self) -> dict[str, Any]:
        return self.one("Deployment", SERVER, SERVER_NAMESPACE)

    @property
    def pod(self) -> dict[str, Any]:
        return dict(self.deployment["spec"]["template"]["spec"])

    @property
    def container(self) -> dict[str, Any]:
        [found] = [c for c in self.pod["containers"] if c["name"] == SERVER]
        return dict(found)

    def volume(self, name: str) -> dict[str, Any]:
        [found] = [v for v in self.pod.get("volumes", []) if v["name"] == name]
        return dict(found)

    def mount_of(self, path: str) -> dict[str, Any] | None:
        """The container's volume mount that holds ``path`` (the deepest), if any."""
        mounts = [
            m
            for m in self.container.get("volumeMounts", [])
            if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")
        ]
        return max(mounts, key=lambda m: len(m["mountPath"]), default=None)


@functools.cache
def rendered(variant: str) -> Rendered:
    result = subprocess.run(
        [kubectl(), "kustomize", str(DEPLOY / variant)], capture_output=True, text=True
    )
    assert result.returncode == 0, f"kubectl kustomize deploy/{variant}: {result.stderr}"
    objects = tuple(o for o in yaml.safe_load_all(result.stdout) if o)
    return Rendered(variant, result.stdout, objects)


# -- the image ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    base: str
    name: str
    commands: tuple[Any, ...]

    def instructions(self, cmd: str) -> list[Any]:
        return [c for c in self.commands if c.cmd == cmd]


@dataclass(frozen=True)
class Image:
    args: Mapping[str, str]
    stages: tuple[Stage, ...]

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    @property
    def entrypoint(self) -> list[str]:
        [entrypoint] = self.final.instructions("ENTRYPOINT")
        assert entrypoint.json, "ENTRYPOINT in exec form, so that the server gets the signals"
        return list(entrypoint.value)

    @property
    def env(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for env in self.final.instructions("ENV"):
            pairs = env.value
            found.update(zip(pairs[::2], pairs[1::2], strict=True))
        return found

    @property
    def user(self) -> str:
        *_, user = self.final.instructions("USER")
        return str(user.value[0])

    @property
    def volumes(self) -> list[str]:
        return [v for volume in self.final.instructions("VOLUME") for v in volume.value]

    @property
    def exposed(self) -> set[int]:
        return {int(p.split("/")[0]) for e in self.final.instructions("EXPOSE") for p in e.value}


def _substitute(text: str, args: Mapping[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], text)


def read_image(path: Path = ROOT / "Dockerfile") -> Image:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    commands: list[Any] = []
    for command in dockerfile.parse_file(str(path)):
        if command.cmd == "ARG" and not stages and not commands:
            name, _, default = command.value[0].partition("=")
            args[name] = default
        elif command.cmd == "FROM":
            base, *alias = command.value
            stages.append(Stage(_substitute(base, args), alias[-1] if alias else "", ()))
        else:
            assert stages, f"line {command.start_line}: {command.cmd} before any FROM"
            last = stages[-1]
            stages[-1] = Stage(last.base, last.name, (*last.commands, command))
    return Image(args, tuple(stages))


IMAGE = read_image()


# -- what the server in the pod runs with ---------------------------------------------------------


def _env_value(entry: Mapping[str, Any], deployment: Mapping[str, Any]) -> str:
    if "value" in entry:
        return str(entry["value"])
    source = entry["valueFrom"]
    if "fieldRef" in source:
        fields = {
            "metadata.name": POD_NAME,
            "metadata.namespace": str(deployment["metadata"]["namespace"]),
        }
        return fields[source["fieldRef"]["fieldPath"]]
    ref = source["secretKeyRef"]
    key = (ref["name"], ref["key"])
    assert key in SECRET_VALUES, f"say in SECRET_VALUES what Secret {key} holds"
    return SECRET_VALUES[key]


def container_env(variant: Rendered) -> dict[str, str]:
    """The container's environment: the image's, then the Deployment's, valueFrom resolved."""
    env = dict(IMAGE.env)
    for entry in variant.container.get("env", []):
        env[entry["name"]] = _env_value(entry, variant.deployment)
    return env


def container_argv(variant: Rendered) -> list[str]:
    """What the container runs: the image's entrypoint and the Deployment's args."""
    container = variant.container
    return [*container.get("command", IMAGE.entrypoint), *container.get("args", [])]


def _secret_mounts(variant: Rendered, scratch: Path) -> Iterator[tuple[str, Path]]:
    """Each Secret volume's mount path, and a directory holding what the Secret would."""
    for mount in variant.container.get("volumeMounts", []):
        secret = variant.volume(mount["name"]).get("secret")
        if secret is None:
            continue
        name = secret["secretName"]
        assert name in SECRET_FILES, f"say in SECRET_FILES what Secret {name} holds"
        directory = scratch / mount["name"]
        directory.mkdir(parents=True)
        SECRET_FILES[name](directory)
        yield mount["mountPath"].rstrip("/") + "/", directory


def effective_settings(variant: Rendered, scratch: Path) -> Settings:
    """The server's settings in the pod, read by the settings loader from the pod's argv and
    environment (mounted Secrets written under ``scratch``, paths pointed there)."""
    mounts = list(_secret_mounts(variant, scratch))

    def local(value: str) -> str:
        for prefix, directory in mounts:
            if value.startswith(prefix):
                return str(directory / value.removeprefix(prefix))
        return value

    env = {name: local(value) for name, value in container_env(variant).items()}
    argv = [local(arg) for arg in container_argv(variant)]
    assert Path(argv[0]).name == "assay" and argv[1] == "serve", argv
    cli = typer.main.get_command(app)
    assert isinstance(cli, typer.core.TyperGroup)
    params = cli.commands["serve"].make_context("serve", argv[2:]).params
    given = {option.dotted: params.get(option.param) for option in options()}
    return load_settings(env, given)
