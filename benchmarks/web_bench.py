"""The web app under load: `POST /api/plan` and the clinic dashboard beside a trivial endpoint of the same app
(`/healthz`, which touches no database), measured in the same run.

    .venv/bin/python benchmarks/web_bench.py [--workers 1] [--patients 50] [--rate 100] [--seconds 10]
                                             [--concurrency 8] [--db FILE|postgresql://...]

The app runs under uvicorn in `--workers` subprocesses, each on 127.0.0.1 and a free port of its own (this
process, the load, spreads its requests over them as a load balancer would), with production settings (a
random secret; Secure cookies off, as the load is plain HTTP on loopback) over a new store: `--patients`
patients in the clinician's clinic, each with a plan started on a different day and the injections due so
far given, so the dashboard has due, overdue and awaited rows.

Two phases per endpoint, after a warm-up:

- **open loop**: requests sent at a fixed `--rate` for `--seconds`, whether or not earlier ones have come
  back; latency is counted from when each request was due to be sent, so a server that falls behind is seen
  (no coordinated omission). Targets: p99 under 50 ms, no errors.
- **closed loop**: `--concurrency` clients each sending the next request as soon as the last one is back,
  for `--seconds`: the throughput the app can sustain. Target: the plan endpoint at least half the trivial
  endpoint's throughput.

Every request has a 5 s timeout and each phase a bounded count and time. The client is a lean keep-alive
HTTP/1.1 client of its own; its CPU use is printed for the closed loop: near 100% of a core, the client (not
the app) would limit the throughput measured. The machine's load average is printed too: other work on the
machine skews every number.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from b12plan import services
from b12plan.domain.codes import EventKind
from b12plan.services import accounts, records
from b12plan.store import Store, resolve_url, upgrade
from b12plan.store.engine import make_engine

HOST = "127.0.0.1"
PASSWORD = "benchmark password 0123"
CLINIC = "Bench"
TIMEOUT_S = 5.0
P99_TARGET_MS = 50.0
RATIO_TARGET = 0.5


def app_from_env() -> object:
    """The app for `uvicorn --factory web_bench:app_from_env` (settings from the B12PLAN_* variables)."""
    from b12plan.web import Settings, create_app

    return create_app(Settings.from_env())


# -- the store -----------------------------------------------------------------------------------------------


def example_case(start: dt.date) -> dict[str, object]:
    case: dict[str, object] = json.loads(services.example_case_text())
    case["start_date"] = start.isoformat()
    for lab in case["labs"]:  # type: ignore[attr-defined]
        lab["date"] = (start - dt.timedelta(days=7)).isoformat()
    return case


def fill(db: str, patients: int) -> None:
    """Patients with plans started 0 to 180 days ago, every injection due before today given on its day
    (one in four a day late); an admin and a clinician of their clinic."""
    engine = make_engine(resolve_url(db))
    upgrade(engine)  # PostgreSQL is only ever created by `db upgrade`
    engine.dispose()
    today = dt.date.today()
    now = dt.datetime.now().replace(microsecond=0)
    with Store.open(db, actor="bench") as store:
        for i in range(patients):
            ref = f"P-{i:05}"
            start = today - dt.timedelta(days=(i * 37) % 181)
            records.add_patient(store, ref, clinic=CLINIC)
            plan, _ = records.plan_for_patient(
                store,
                ref,
                example_case(start),
                today=start,
                reason=None,
                now=dt.datetime.combine(start, dt.time(9)),
            )
            given = [e.date for e in plan.events if e.kind is EventKind.INJECTION and e.date < today]
            for number, day in enumerate(given):
                late = 1 if (i + number) % 4 == 0 and day + dt.timedelta(days=1) < today else 0
                at = dt.datetime.combine(day + dt.timedelta(days=late), dt.time(10))
                records.give_dose(store, ref, at=at, site="deltoid-left", now=now)
        accounts.add_user(store, "bench-admin", PASSWORD, "admin")
        accounts.add_user(store, "bench-nurse", PASSWORD, "clinician", clinic=CLINIC)


# -- the server ----------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """The app's processes, each a single-process uvicorn on its own port (the client spreads its requests
    over them, as a load balancer would). Not `uvicorn --workers N`: on Linux its workers' sockets lose
    TCP_NODELAY, which adds ~40 ms to every keep-alive response (uvicorn issue #3149)."""

    processes: list[subprocess.Popen[bytes]]
    ports: list[int]
    log: Path  # the servers' stderr

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.ports[0]}"

    def errors(self) -> list[str]:
        """The error lines the servers logged (a traceback's last line says what was raised)."""
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return [line for line in lines if line.startswith("ERROR") or "internal error" in line]

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def start_server(db: str, processes: int, log: Path) -> Server:
    env = {
        **os.environ,
        "B12PLAN_DATABASE_URL": db,
        "B12PLAN_SECRET_KEY": secrets.token_urlsafe(48),  # one secret: each process accepts every session
        "B12PLAN_ENV": "production",
        "B12PLAN_COOKIE_SECURE": "0",
        "B12PLAN_LOGIN_ATTEMPTS": "100",
    }
    server = Server([], [], log)
    with log.open("wb") as stderr:
        for _ in range(processes):
            port = free_port()
            command = [
                sys.executable, "-m", "uvicorn", "--factory", "web_bench:app_from_env",
                "--app-dir", str(Path(__file__).parent), "--host", HOST, "--port", str(port),
                "--no-access-log", "--log-level", "warning", "--no-server-header",
            ]  # fmt: skip
            server.processes.append(
                subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            )
            server.ports.append(port)
    deadline = time.monotonic() + 60
    waiting = list(server.ports)
    while waiting and time.monotonic() < deadline:
        if any(process.poll() is not None for process in server.processes):
            server.stop()
            raise SystemExit(f"a server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://{HOST}:{waiting[0]}/healthz", timeout=1).status_code == 200:
                waiting.pop(0)
                continue
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    if waiting:
        server.stop()
        raise SystemExit("the servers did not answer /healthz within 60 s")
    return server


# -- the load ------------------------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection: a request's bytes out, (status, body) back. A lean client, so that
    the client's own cost stays well under the trivial endpoint's (httpx spends more per request than
    /healthz does, which would cap the throughput measured for it)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection(HOST, port))

    async def send(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = dict(line.split(b":", 1) for line in head.lower().split(b"\r\n")[1:] if b":" in line)
        if headers.get(b"transfer-encoding", b"").strip() == b"chunked":
            body = b""
            while size := int((await self.reader.readuntil(b"\r\n")).strip(), 16):
                body += (await self.reader.readexactly(size + 2))[:-2]
            await self.reader.readuntil(b"\r\n")
        else:
            body = await self.reader.readexactly(int(headers.get(b"content-length", b"0")))
        return status, body

    def close(self) -> None:
        self.writer.close()


class Pool:
    """Connections to the servers, opened as needed (one per request in flight), each request to the next
    server in turn. A connection idle for longer than `IDLE_S` is dropped rather than reused: uvicorn closes
    a keep-alive connection idle for 5 s."""

    IDLE_S = 3.0

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.idle: dict[int, list[tuple[Connection, float]]] = {port: [] for port in ports}
        self.turn = 0

    async def _connection(self, port: int) -> Connection:
        idle = self.idle[port]
        while idle:
            connection, since = idle.pop()
            if time.monotonic() - since < self.IDLE_S:
                return connection
            connection.close()
        return await Connection.open(port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        port = self.ports[self.turn % len(self.ports)]
        self.turn += 1
        connection = await self._connection(port)
        try:
            answer = await connection.send(request)
        except BaseException:  # an error or a timeout's cancellation: the connection is in an unknown state
            connection.close()
            raise
        self.idle[port].append((connection, time.monotonic()))
        return answer

    def close(self) -> None:
        for idle in self.idle.values():
            for connection, _ in idle:
                connection.close()


def http_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"host: {HOST}", *(f"{k}: {v}" for k, v in headers.items())]
    if method != "GET":
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class Result:
    endpoint: str
    mode: str
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    unsent: int = 0  # open loop: not sent, as too many were already waiting (counted among the errors)
    client_cpu: float = 0.0  # the client's CPU seconds per wall second (1.0 = one core)
    first_error: str = ""

    @property
    def ok(self) -> int:
        return len(self.latencies_ms)

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s else 0.0

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful requests' latencies, in ms."""
        if not self.latencies_ms:
            return float("nan")
        ranked = sorted(self.latencies_ms)
        return ranked[min(len(ranked) - 1, max(0, round(p / 100 * len(ranked) + 0.5) - 1))]

    def failed(self, problem: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or problem


async def _one(pool: Pool, request: bytes, result: Result, since: float) -> None:
    """Send one request, given up after TIMEOUT_S; a 2xx answer counts, with its latency from `since`."""
    try:
        status, body = await asyncio.wait_for(pool.send(request), TIMEOUT_S)
    except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
        result.failed(f"{type(exc).__name__}: {exc or 'no answer in time'}")
        return
    if 200 <= status < 300:
        result.latencies_ms.append((time.perf_counter() - since) * 1000)
    else:
        result.failed(f"HTTP {status}: {body[:120]!r}")


async def open_loop(pool: Pool, name: str, request: bytes, rate: float, seconds: float) -> Result:
    """`rate` requests a second for `seconds`, each sent when due; latency counted from when it was due.

    At most `rate` requests (a second's worth) wait at once: a request due beyond that is not sent and counts
    as an error, so that a server that cannot keep up is not left with a backlog that would skew what follows.
    """
    result = Result(name, f"open {rate:g}/s")
    count, most = int(rate * seconds), max(10, int(rate))
    waiting = 0
    start = time.perf_counter() + 0.05

    async def scheduled(i: int) -> None:
        nonlocal waiting
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if waiting >= most:
            result.unsent += 1
            result.failed(f"not sent: {most} requests were already waiting for an answer")
            return
        waiting += 1
        try:
            await _one(pool, request, result, due)
        finally:
            waiting -= 1

    await asyncio.gather(*(scheduled(i) for i in range(count)))  # bounded: each request by TIMEOUT_S
    result.elapsed_s = time.perf_counter() - start
    return result


async def closed_loop(pool: Pool, name: str, request: bytes, workers: int, seconds: float) -> Result:
    """`workers` clients, each sending its next request when the last is back, for `seconds`."""
    result = Result(name, f"closed x{workers}")
    start = time.perf_counter()
    cpu = time.process_time()
    deadline = start + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await _one(pool, request, result, time.perf_counter())

    await asyncio.gather(*(worker() for _ in range(workers)))  # bounded: seconds + TIMEOUT_S
    result.elapsed_s = time.perf_counter() - start
    result.client_cpu = (time.process_time() - cpu) / result.elapsed_s
    return result


def sign_in(url: str) -> tuple[str, str]:
    """A session cookie for the clinician (through the sign-in form) and an API token for the admin."""
    with httpx.Client(base_url=url, timeout=TIMEOUT_S) as client:
        page = client.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, "no CSRF token on the sign-in page"
        form = {"username": "bench-nurse", "password": PASSWORD, "csrf_token": found.group(1)}
        signed = client.post("/login", data=form)
        assert signed.status_code == 303, signed.text[:300]
        token = client.post("/api/token", data={"username": "bench-admin", "password": PASSWORD})
        assert token.status_code == 200, token.text[:300]
        return f"b12plan={client.cookies['b12plan']}", str(token.json()["access_token"])


async def run_load(server: Server, args: argparse.Namespace) -> list[Result]:
    cookie, token = sign_in(server.url)
    case = json.dumps(example_case(dt.date.today())).encode()
    plan_headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    endpoints = [
        ("GET /healthz (trivial)", http_request("GET", "/healthz", {})),
        ("POST /api/plan", http_request("POST", "/api/plan", plan_headers, case)),
        ("GET /dashboard", http_request("GET", "/dashboard", {"cookie": cookie})),
    ]
    pool = Pool(server.ports)
    results = []
    try:
        for name, request in endpoints:
            warm = Result(name, "warm-up")
            for _ in range(20):
                await _one(pool, request, warm, time.perf_counter())
            if warm.errors:
                raise SystemExit(f"{name} fails: {warm.first_error}")
            print(f"  {name}: warm, {warm.percentile(50):.1f} ms each", flush=True)
            results.append(await open_loop(pool, name, request, args.rate, args.seconds))
            await drained(pool)
            results.append(await closed_loop(pool, name, request, args.concurrency, args.seconds))
            await drained(pool)
    finally:
        pool.close()
    return results


async def drained(pool: Pool, limit_s: float = 120.0) -> None:
    """Wait until the server has worked off requests the client gave up on (they stay queued for its thread
    pool, where /healthz waits too), so that the next phase starts on an idle server."""
    request = http_request("GET", "/healthz", {})
    deadline = time.perf_counter() + limit_s
    fast = 0
    while time.perf_counter() < deadline:
        probe = Result("healthz", "drain")
        await _one(pool, request, probe, time.perf_counter())
        fast = fast + 1 if probe.ok and probe.latencies_ms[0] < 20 else 0
        if fast >= len(pool.ports):  # every server answered at once (round robin)
            return
        if not fast:
            await asyncio.sleep(0.5)
    print("  (the server was still busy after 2 minutes)", flush=True)


# -- the report ----------------------------------------------------------------------------------------------


def report(results: list[Result], args: argparse.Namespace, load_before: float) -> bool:
    """Print the table and the targets; whether every target was met."""
    print()
    header = (
        f"{'endpoint':<24} {'load':<11} {'ok':>6} {'errors':>6} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        top = max(r.latencies_ms, default=float("nan"))
        note = f"  (client CPU {r.client_cpu:.0%})" if r.mode.startswith("closed") else ""
        note += f"  ({r.unsent} not sent)" if r.unsent else ""
        print(
            f"{r.endpoint:<24} {r.mode:<11} {r.ok:>6} {r.errors:>6} {r.throughput:>8.0f} "
            f"{r.percentile(50):>7.1f} {r.percentile(99):>7.1f} {top:>7.1f}{note}"
        )
    for r in results:
        if r.first_error:
            print(f"first error, {r.endpoint} {r.mode}: {r.first_error}")
    by = {(r.endpoint, r.mode.split()[0]): r for r in results}
    print(f"\nTargets (workers {args.workers}, {args.patients} patients, {os.cpu_count()} CPUs, "
          f"load average {load_before:.2f} before the run, {os.getloadavg()[0]:.2f} after):")  # fmt: skip
    met = True
    for name in ("POST /api/plan", "GET /dashboard"):
        r = by[(name, "open")]
        good = r.errors == 0 and r.percentile(99) < P99_TARGET_MS
        met &= good
        verdict = "met" if good else "NOT met"
        print(f"  {name} at {args.rate:g} req/s: p99 {r.percentile(99):.1f} ms < {P99_TARGET_MS:g} ms, "
              f"{r.errors} errors: {verdict}")  # fmt: skip
    plan, trivial = by[("POST /api/plan", "closed")], by[("GET /healthz (trivial)", "closed")]
    ratio = plan.throughput / trivial.throughput if trivial.throughput else 0.0
    good = ratio >= RATIO_TARGET and plan.errors == 0
    met &= good
    print(f"  plan / trivial throughput: {plan.throughput:.0f} / {trivial.throughput:.0f} = {ratio:.2f} "
          f">= {RATIO_TARGET}: {'met' if good else 'NOT met'}")  # fmt: skip
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="app processes (one uvicorn each)")
    parser.add_argument("--patients", type=int, default=50, help="patients in the clinician's clinic")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients")
    parser.add_argument("--db", help="an empty database (default: a new SQLite file in a temporary folder)")
    args = parser.parse_args()
    if not (0 < args.rate <= 2000 and 0 < args.seconds <= 120 and 0 < args.concurrency <= 64):
        parser.error("keep --rate <= 2000, --seconds <= 120 and --concurrency <= 64")
    load_before = os.getloadavg()[0]  # other work on the machine, before this run adds its own
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or str(Path(folder) / "bench.sqlite3")
        started = time.perf_counter()
        fill(db, args.patients)
        print(f"store: {args.patients} patients in {time.perf_counter() - started:.1f} s", flush=True)
        server = start_server(db, args.workers, Path(folder) / "server.log")
        try:
            results = asyncio.run(run_load(server, args))
        finally:
            server.stop()
        errors = server.errors()
    met = report(results, args, load_before)
    if errors:
        print(f"\nThe server logged {len(errors)} errors, e.g. {errors[0]!r}")
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
