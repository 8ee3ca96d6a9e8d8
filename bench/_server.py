"""Helpers for HTTP benchmarks: a real uvicorn server in a child process, and a load generator
that runs in another child process.

The load generator speaks HTTP/1.1 over raw asyncio streams (keep-alive, one connection per
concurrent task) instead of a full client library: on a small machine the client shares the
CPU with the server, and a lean client steals less of it. Only 127.0.0.1 is ever targeted.

    python bench/_server.py load --port P --path /x --payloads FILE [--concurrency 16]
                                 [--duration 20] [--warmup 2] [--server-pid PID] [--expect 201]

prints one JSON object: requests, errors, eps, latency percentiles, CPU seconds used by the
client and (given --server-pid) by the server during the timed part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any, Self

HOST = "127.0.0.1"


# -- the server side ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def serve(app: Any, port: int) -> None:
    """Serve an ASGI app in this process, the way `uvicorn --workers 1 --log-level warning` does."""
    import uvicorn

    uvicorn.run(app, host=HOST, port=port, workers=1, log_level="warning")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """A child process serving on 127.0.0.1:port; ready once the port accepts connections."""

    def __init__(self, argv: Sequence[str], port: int, *, log: str | None = None,
                 ready_timeout: float = 120.0) -> None:
        self.argv = list(argv)
        self.log = log  # the server's stdout and stderr go here (default: inherited)
        self.port = port
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def __enter__(self) -> Self:
        out = open(self.log, "wb") if self.log else None
        try:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT if out else None)
        finally:
            if out is not None:
                out.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {' '.join(self.argv)}\n"
                                   f"{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.__exit__(None, None, None)
        raise RuntimeError(f"server did not listen on {HOST}:{self.port} within {self.ready_timeout:.0f} s")

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log:
            return ""
        with open(self.log, "rb") as f:
            return f.read()[-chars:].decode(errors="replace")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def build_demo(why: str) -> str:
    """A data folder holding the demo district (`shanzhi init && shanzhi demo`), built now."""
    import tempfile

    folder = tempfile.mkdtemp(prefix="shanzhi-bench-demo-")
    print(f"{why}: building the demo district in {folder} (under a minute to a few)…", flush=True)
    env = {**os.environ, "SHANZHI_DATA_DIR": folder}
    for args in (["init"], ["demo"]):
        subprocess.run([sys.executable, "-m", "shanzhi.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    return folder


# -- the load generator ------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = None
    chunked = False
    keep_alive = True
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            keep_alive = False
    if length is not None:
        return status, await reader.readexactly(length), keep_alive
    if chunked:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts), keep_alive
    return status, await reader.read(), False


async def _phase(port: int, path: str, bodies: list[bytes], auth: list[str], concurrency: int,
                 seconds: float, expect: int, offset: int) -> dict[str, Any]:
    """Every task sends requests back to back until `seconds` have passed, then stops."""
    latencies: list[float] = []
    errors: list[int] = [0]
    ok: list[int] = [0]
    samples: list[str] = []
    end = time.perf_counter() + seconds

    async def task(i: int) -> None:
        auth_line = f"Authorization: {auth[i % len(auth)]}\r\n" if auth else ""
        head = (f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n{auth_line}"
                "Content-Type: application/json\r\nAccept: application/json\r\n").encode()
        k = offset + i
        reader = writer = None
        while time.perf_counter() < end:
            body = bodies[k % len(bodies)]
            k += concurrency
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None
            t0 = time.perf_counter()
            try:
                writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
                status, payload, keep_alive = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors[0] += 1
                if len(samples) < 3:
                    samples.append(f"connection: {exc!r}")
                writer.close()
                reader = writer = None
                continue
            latencies.append(time.perf_counter() - t0)
            if status == expect:
                ok[0] += 1
            else:
                errors[0] += 1
                if len(samples) < 3:
                    samples.append(f"{status}: {payload[:300].decode(errors='replace')}")
            if not keep_alive:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(task(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {"latencies": latencies, "ok": ok[0], "errors": errors[0], "samples": samples, "elapsed": elapsed}


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[idx]


def run_load(*, port: int, path: str, bodies: list[bytes], auth: list[str], concurrency: int,
             duration: float, warmup: float, expect: int, server_pid: int | None) -> dict[str, Any]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if warmup > 0:  # connections, pools, caches and the server's thread pool warm up untimed
        asyncio.run(_phase(port, path, bodies, auth, concurrency, warmup, expect, offset=len(bodies) // 2))
    server_cpu0 = cpu_seconds(server_pid) if server_pid else None
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    out = asyncio.run(_phase(port, path, bodies, auth, concurrency, duration, expect, offset=0))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu1 = cpu_seconds(server_pid) if server_pid else None
    lat = sorted(out["latencies"])
    requests = out["ok"] + out["errors"]
    ok = out["ok"]
    elapsed = out["elapsed"]
    return {
        "requests": requests,
        "errors": out["errors"],
        "ok": ok,
        "elapsed_s": elapsed,
        "eps": ok / elapsed,
        "p50_ms": _percentile(lat, 50) * 1000,
        "p90_ms": _percentile(lat, 90) * 1000,
        "p99_ms": _percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] * 1000) if lat else float("nan"),
        "client_cpu_s": (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime),
        "server_cpu_s": (server_cpu1 - server_cpu0) if server_pid else None,
        "error_samples": out["samples"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP load generator (127.0.0.1 only)")
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--path", required=True)
    load.add_argument("--payloads", required=True,
                      help='JSON file: {"bodies": [str, …], "auth": ["Bearer …", …]}')
    load.add_argument("--concurrency", type=int, default=16)
    load.add_argument("--duration", type=float, default=20.0)
    load.add_argument("--warmup", type=float, default=2.0)
    load.add_argument("--expect", type=int, default=201)
    load.add_argument("--server-pid", type=int)
    args = parser.parse_args()
    with open(args.payloads, encoding="utf-8") as f:
        payloads = json.load(f)
    result = run_load(
        port=args.port, path=args.path, bodies=[b.encode() for b in payloads["bodies"]],
        auth=payloads.get("auth") or [], concurrency=args.concurrency, duration=args.duration,
        warmup=args.warmup, expect=args.expect, server_pid=args.server_pid,
    )
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
