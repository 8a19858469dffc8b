"""A recording through one gunicorn worker, as a browser or a download gets it: the whole hour
exported, and the first byte of a range at its start and in its last minute.

    python -m bench.streaming [--minutes 60] [--repeat 5]

A fresh SQLite database under ``bench/out`` gets one agent and one call with a sealed recording
of MINUTES minutes; gunicorn (``deploy/gunicorn.conf.py``: gthread) serves it with one worker on
127.0.0.1; the agent logs in over HTTP and the benchmark reads, through the socket, the whole
export and ranges of it (every request audited, as always). Figures go to stdout and to
``docs/benchmarks.md``; exit status 1 when one worker streams less than 100 MB/s or the end's
first byte costs more than 1.5 times the start's.
"""

from __future__ import annotations

import http.client
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import click

from bench.calls_list import DOCS, OUT, ROOT, echo, migrate
from bench.docs import marked, write_blocks
from webapp import create_app
from webapp.auth.backends import set_local_password
from webapp.extensions import db
from webapp.models import Call, Register, Role, Service, User
from webapp.storage import storage

STREAM_TARGET = 100  # MB/s
RATIO_TARGET = 1.5
PASSWORD = os.urandom(12).hex()  # this run's agent only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(minutes: float) -> tuple[dict[str, str], int, int]:
    base = OUT / "streaming"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    (base / "audit_key").write_text(os.urandom(32).hex())
    (base / "master_keys").write_text(f"bench {os.urandom(32).hex()}\n")
    env = {
        "TALLENNE_DATABASE_URL": f"sqlite:///{base / 'tallenne.db'}",
        "TALLENNE_SECRET_KEY": "bench",
        "TALLENNE_STORAGE_DIR": str(base / "recordings"),
        "TALLENNE_AUDIT_KEY_FILE": str(base / "audit_key"),
        "TALLENNE_AUDIT_CHECKPOINT_FILE": str(base / "checkpoints.jsonl"),
        "TALLENNE_MASTER_KEY_FILE": str(base / "master_keys"),
    }
    os.environ.update(env)
    migrate(env["TALLENNE_DATABASE_URL"])
    app = create_app()
    with app.app_context():
        register = Register(
            code="r", name="r", retention_months=12, controller="x", contact="x", dpo_contact="x"
        )
        db.session.add(register)
        db.session.flush()
        service = Service(register_id=register.id, code="600", name="s")
        agent = User(username="bench", display_name="Bench", auth_source="local")
        agent.roles = {Role.AGENT}
        set_local_password(agent, PASSWORD)
        db.session.add_all([service, agent])
        db.session.flush()
        audio = _wav(minutes)
        started = datetime(2026, 6, 1, 9, tzinfo=UTC)
        call = Call(
            started_at=started,
            duration_s=int(minutes * 60),
            direction="in",
            service_id=service.id,
            agent_id=agent.id,
        )
        call.keep(storage().put(audio, started))
        db.session.add(call)
        db.session.commit()
        ids = call.id, len(audio)
        db.engine.dispose()
    return env, *ids


def _wav(minutes: float) -> bytes:
    import io
    import wave

    second = b"".join(
        int(5000 * math.sin(2 * math.pi * 440 * i / 8000)).to_bytes(2, "little", signed=True)
        for i in range(8000)
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(second * int(minutes * 60))
    return out.getvalue()


def _cookie(response: http.client.HTTPResponse) -> str:
    found = re.search(r"tallenne_session=([^;]+)", response.getheader("Set-Cookie") or "")
    return f"tallenne_session={found.group(1)}" if found else ""


def _login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/login")
    page = conn.getresponse()
    html = page.read().decode()
    cookie = _cookie(page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    form = {"username": "bench", "password": PASSWORD}
    if token:
        form["csrf_token"] = token.group(1)
    conn.request(
        "POST",
        "/login",
        body=urlencode(form),
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie},
    )
    done = conn.getresponse()
    done.read()
    conn.close()
    if done.status != 302:
        raise click.ClickException(f"login over HTTP failed ({done.status})")
    return _cookie(done) or cookie


def _get(port: int, path: str, cookie: str, headers: dict | None = None, whole: bool = True):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    began = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie, **(headers or {})})
    response = conn.getresponse()
    first = response.read(1)
    first_at = time.perf_counter() - began
    total = len(first)
    while whole:
        block = response.read(1 << 20)
        if not block:
            break
        total += len(block)
    conn.close()
    return response.status, first_at, total, time.perf_counter() - began


def measure(minutes: float, repeat: int) -> dict[str, float]:
    env, call_id, size = _prepare(minutes)
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "-c",
            "deploy/gunicorn.conf.py",
            "wsgi:app",
        ],
        cwd=ROOT,
        env={**os.environ, **env, "TALLENNE_BIND": f"127.0.0.1:{port}", "TALLENNE_WORKERS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                if _get(port, "/healthz", "")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        cookie = _login(port)
        exports = []
        for _ in range(repeat):
            status, _first, total, took = _get(port, f"/calls/{call_id}/export", cookie)
            if status != 200 or total != size:
                raise click.ClickException(f"export gave {status}, {total} of {size} bytes")
            exports.append(took)
        last_minute = size - 60 * 8000 * 2

        def first_byte(at: int) -> float:
            ranges = {"Range": f"bytes={at}-{at + 65535}"}
            runs = []
            for _ in range(repeat * 4):
                status, first, _total, _took = _get(port, f"/calls/{call_id}/audio", cookie, ranges)
                assert status == 206
                runs.append(first)
            return statistics.median(runs)

        start_s, end_s = first_byte(44), first_byte(last_minute)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "mb": size / 1e6,
        "stream": size / 1e6 / statistics.median(exports),
        "start_ms": start_s * 1000,
        "end_ms": end_s * 1000,
        "ratio": end_s / start_s,
    }


def section(minutes: float, f: dict[str, float]) -> str:
    def ok(good: bool) -> str:
        return "✓" if good else "✗"

    return "\n".join(
        [
            "<!-- streaming:figures -->",
            f"- Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; one gunicorn gthread worker on "
            f"127.0.0.1; {os.cpu_count()} CPUs seen; 1-minute load average "
            f"{os.getloadavg()[0]:.1f}",
            f"- Recording: {minutes:g} minutes, {f['mb']:.1f} MB, sealed",
            "",
            "| measure | figure | target |",
            "|---|--:|---|",
            f"| the whole export through the socket | {f['stream']:,.0f} MB/s | "
            f"≥ {STREAM_TARGET} {ok(f['stream'] >= STREAM_TARGET)} |",
            f"| first byte of a 64 KiB range at the start (request included) | "
            f"{f['start_ms']:.2f} ms | |",
            f"| first byte of a 64 KiB range in the last minute | {f['end_ms']:.2f} ms | |",
            f"| end / start | {f['ratio']:.2f} | ≤ {RATIO_TARGET} "
            f"{ok(f['ratio'] <= RATIO_TARGET)} |",
            "<!-- /streaming:figures -->",
            "",
        ]
    )


HEADER = """## Streaming a recording through gunicorn

Written by `python -m bench.streaming`; the block between the `streaming:figures` markers is
replaced on every run. One gunicorn worker (gthread, as deployed) serves a sealed recording to
a logged-in agent over a socket on 127.0.0.1: the whole export, and 64 KiB ranges whose time
to the first byte includes the request's session look-up and its committed audit event.
"""


def write_docs(block: str) -> None:
    write_blocks("streaming", {"header": marked("streaming", "header", HEADER), "figures": block})


@click.command()
@click.option("--minutes", default=60.0, show_default=True)
@click.option("--repeat", default=5, show_default=True)
@click.option("--docs/--no-docs", default=True, show_default=True)
def main(minutes: float, repeat: int, docs: bool) -> None:
    """Time a sealed recording through one gunicorn worker."""
    figures = measure(minutes, repeat)
    block = section(minutes, figures)
    echo(block)
    if docs:
        write_docs(block)
        echo(f"wrote {DOCS.relative_to(ROOT)}")
    sys.exit(0 if figures["stream"] >= STREAM_TARGET and figures["ratio"] <= RATIO_TARGET else 1)


if __name__ == "__main__":
    main()
