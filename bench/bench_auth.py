"""What authentication costs per call: ``python bench/bench_auth.py [--calls N] [--json]``.

Starts the server (SQLite in a temporary directory, loopback, port 0) once per mode and
makes ``--calls`` sequential unary ListChecks calls through the typed client over one
channel, after a warm-up: open (no authentication), a static token file, TokenReview
(answered by the Kubernetes API double; after the first call every review is a cache hit),
TLS with a token, and mutual TLS. Prints p50/p99 latency and calls per second per mode,
and with ``--json`` a last line holding the figures. ``--connections`` also times opening a
new channel per call (the TLS handshake, where the certificate files are checked for
changes).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.kubeapi (the double) and the test certificates

from assay.client.api import AssayClient, Credentials  # noqa: E402
from assay.server.app import AssayServer  # noqa: E402
from assay.server.auth.settings import AuthSettings, TlsSettings  # noqa: E402
from assay.server.kube.client import KubeClient  # noqa: E402
from assay.server.settings import Settings  # noqa: E402
from assay.server.storage.engine import create_engine_from_url, migrate  # noqa: E402
from assay.server.storage.repository import Repository  # noqa: E402
from tests.certificates import TestCA  # noqa: E402
from tests.integration.kube.fixtures import kube_client  # noqa: E402
from tests.kubeapi import KubeApiDouble  # noqa: E402

TOKEN = "bench-token-5f0c1a"


@dataclasses.dataclass(frozen=True)
class Mode:
    name: str
    settings: Settings
    credentials: Credentials
    review: bool = False


def modes(folder: Path) -> list[Mode]:
    (folder / "tokens.csv").write_text(f"{TOKEN},bench,viewers\n")
    ca = TestCA()
    ca.server().write(folder / "tls.crt", folder / "tls.key")
    (folder / "ca.crt").write_bytes(ca.pem)
    client = ca.client("bench", "viewers")
    base = Settings(listen="127.0.0.1:0", health_port=0, metrics_port=0)
    token_file = AuthSettings(token_file=str(folder / "tokens.csv"))
    tls = TlsSettings(cert=str(folder / "tls.crt"), key=str(folder / "tls.key"))
    mutual = dataclasses.replace(tls, client_ca=str(folder / "ca.crt"))
    with_token = Credentials(token=TOKEN)
    return [
        Mode("open", base, Credentials()),
        Mode("token-file", dataclasses.replace(base, auth=token_file), with_token),
        Mode(
            "token-review",
            dataclasses.replace(base, auth=AuthSettings(token_review=True)),
            with_token,
            review=True,
        ),
        Mode(
            "tls+token-file",
            dataclasses.replace(base, auth=token_file, tls=tls),
            Credentials(token=TOKEN, ca=ca.pem),
        ),
        Mode(
            "mutual-tls",
            dataclasses.replace(base, tls=mutual),
            Credentials(ca=ca.pem, cert=client.cert_pem, key=client.key_pem),
        ),
    ]


@contextmanager
def running(mode: Mode, repository: Repository) -> Iterator[str]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    api = KubeApiDouble()

    def call(coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, loop).result(30)

    async def factory(context: str) -> KubeClient:
        return kube_client(api)

    if mode.review:
        call(api.start())
        api.reviews.accept_token(TOKEN, user="bench", groups=["viewers"])
    server = AssayServer(mode.settings, repository=repository, kube_client_factory=factory)
    call(server.start())
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        call(server.stop(0))
        if mode.review:
            call(api.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def timed(calls: int, one: Callable[[], object]) -> list[float]:
    for _ in range(min(50, calls)):
        one()
    out = []
    for _ in range(calls):
        started = time.perf_counter()
        one()
        out.append(time.perf_counter() - started)
    return out


def figures(latencies: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "p50_ms": round(cuts[49] * 1000, 3),
        "p99_ms": round(cuts[98] * 1000, 3),
        "calls_per_s": round(len(latencies) / sum(latencies), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=100, help="new channels per mode")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engine = create_engine_from_url(f"sqlite:///{folder / 'assay.db'}")
        migrate(engine)
        repository = Repository(engine)
        for mode in modes(folder):
            with running(mode, repository) as target:
                with AssayClient(target, credentials=mode.credentials) as client:

                    def reuse(c: AssayClient = client) -> None:
                        c.list_checks([])

                    same_channel = timed(args.calls, reuse)

                def fresh(t: str = target, m: Mode = mode) -> None:
                    with AssayClient(t, credentials=m.credentials) as c:
                        c.list_checks([])

                new_channel = timed(args.connections, fresh)
            results[mode.name] = {
                "same_channel": figures(same_channel),
                "new_channel": figures(new_channel),
            }
            same, new = results[mode.name]["same_channel"], results[mode.name]["new_channel"]
            print(
                f"{mode.name:15} one channel: p50 {same['p50_ms']:7.3f} ms  "
                f"p99 {same['p99_ms']:7.3f} ms  {same['calls_per_s']:8.1f}/s   "
                f"new channel per call: p50 {new['p50_ms']:7.3f} ms"
            )
        engine.dispose()
    if args.json:
        print(json.dumps({"calls": args.calls, "modes": results}))


if __name__ == "__main__":
    main()
