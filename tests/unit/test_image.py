"""The Dockerfile: two stages on one base pinned by digest, a wheel built and installed (no
editable install, no compiler), a final stage that installs nothing and keeps no pip, a
numeric unprivileged user, every written path on a volume, and `assay serve` listening on
the exposed port. No Docker engine runs here: these are the properties a build would have.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from assay.server.settings import Settings
from tests.unit.rendered import IMAGE, ROOT, Stage

BUILD_TOOLS = re.compile(
    r"\b(apt-get|apt|apk|dnf|yum|microdnf|gcc|g\+\+|cc|make|cmake|build-essential|"
    r"pip\s+install|pip3\s+install|pip\s+wheel|python3?\s+-m\s+pip\s+install)\b"
)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _runs(stage: Stage) -> list[str]:
    return [" ".join(run.value) for run in stage.instructions("RUN")]


def test_two_stages_on_one_base_pinned_by_digest() -> None:
    assert len(IMAGE.stages) >= 2
    bases = {stage.base for stage in IMAGE.stages}
    assert len(bases) == 1, bases
    [base] = bases
    assert base.startswith("python:3.11-slim-bookworm@"), base
    assert DIGEST.search(base), f"{base} is not pinned by digest"


def test_the_build_stage_installs_a_built_wheel_not_the_source_tree() -> None:
    build = " ".join(_runs(IMAGE.stages[0]))
    assert "pip wheel" in build and ".whl" in build
    assert not re.search(r"(^|\s)(-e|--editable)(\s|=)", build)
    # Dependencies come as published wheels: nothing is compiled, no compiler is needed.
    assert "--only-binary=:all:" in build


def test_the_final_stage_installs_nothing_and_keeps_no_pip() -> None:
    final = IMAGE.final
    for run in _runs(final):
        assert not BUILD_TOOLS.search(run.replace("pip uninstall", "")), run
    assert any(re.search(r"pip uninstall --yes pip\b", run) for run in _runs(final))
    assert any(re.search(r"pip uninstall --yes pip\b", r) for r in _runs(IMAGE.stages[0])), (
        "the environment copied into the final stage still holds pip"
    )
    copies = final.instructions("COPY") + final.instructions("ADD")
    assert [c.cmd for c in copies] == ["COPY"]
    [copy] = copies
    assert copy.flags == (f"--from={IMAGE.stages[0].name}",)
    assert copy.value == ("/opt/assay", "/opt/assay")


def test_the_user_is_numeric_and_unprivileged() -> None:
    uid, _, gid = IMAGE.user.partition(":")
    assert uid.isdigit() and gid.isdigit(), "a numeric USER lets runAsNonRoot verify it"
    assert int(uid) >= 10000 and int(gid) >= 10000


def test_every_path_the_server_writes_is_a_volume() -> None:
    env = IMAGE.env
    volumes = IMAGE.volumes
    database = env["ASSAY_DATABASE_URL"]
    assert database.startswith("sqlite:////")
    written = [env["HOME"], str(Path(database.removeprefix("sqlite:///")).parent)]
    for path in written:
        assert any(path == v or path.startswith(v + "/") for v in volumes), path
    # /tmp is not declared a volume (a read-only container gets a tmpfs: --tmpfs /tmp, or
    # the Deployment's emptyDir), but the server must be told where it is.
    assert env["TMPDIR"] == "/tmp"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_entrypoint_serves_on_every_interface_of_the_exposed_port() -> None:
    assert IMAGE.entrypoint[:2] == ["/opt/assay/bin/assay", "serve"]
    listen = IMAGE.entrypoint[IMAGE.entrypoint.index("--listen") + 1]
    host, _, port = listen.rpartition(":")
    assert host == "0.0.0.0"
    defaults = Settings()
    assert IMAGE.exposed == {int(port), defaults.health_port, defaults.metrics_port}


def test_the_entrypoint_is_the_console_script_the_wheel_installs() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "assay" in project["scripts"]
    assert Path(IMAGE.entrypoint[0]).parent.as_posix() == "/opt/assay/bin"
    assert any(r.startswith("python -m venv /opt/assay") for r in _runs(IMAGE.stages[0]))


def _copied_sources() -> list[str]:
    return [
        source.rstrip("/")
        for copy in IMAGE.stages[0].instructions("COPY")
        if not copy.flags
        for source in copy.value[:-1]
    ]


def test_every_path_the_build_copies_exists_and_passes_the_dockerignore() -> None:
    included = {
        line.removeprefix("!").rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    first = next(
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert first == "*", "the context is an allow-list: everything not named stays out"
    for source in _copied_sources():
        assert (ROOT / source).exists(), source
        assert source in included, f"{source} is copied but .dockerignore leaves it out"


def test_the_build_copies_everything_the_wheel_is_built_from() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copied = set(_copied_sources())
    setuptools = pyproject["tool"]["setuptools"]
    roots = {path.split("/")[0] for path in setuptools["package-dir"].values()}
    assert roots <= copied, roots - copied
    assert pyproject["project"]["readme"] in copied
    assert "pyproject.toml" in copied
