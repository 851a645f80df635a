"""Load test of ``feedtag serve`` on loopback (issue 15): latency, throughput, decisions, memory.

Usage: python bench/bench_serve.py [--workers N] [--quick] [--only suggest,batch,decisions,kill,memory]

Starts ``feedtag serve`` with the shipped model on a free 127.0.0.1 port (a fresh decisions file
in a temporary directory) and drives it with a small asyncio HTTP/1.1 client over keep-alive
connections (lighter than httpx, so the client leaves the two cores to the server):

- suggest: single-message ``POST /v1/suggest`` from 16 concurrent clients: p50/p99 and req/s;
- batch: batches of 100 messages (8 clients): messages/s;
- decisions: 8 clients post 10,000 decisions with unique idempotency keys, 10% of them sent
  twice (a retry after a lost answer): the file must hold exactly 10,000 rows;
- kill: the same while the server is SIGKILLed halfway and restarted; clients retry what was
  not acknowledged with the same keys: every acknowledged decision must be in the file at the
  moment of the kill, and exactly 10,000 at the end;
- memory: RSS after the first 1,000 and after 100,000 requests (target: within 10%).

Texts are the messages of examples/helpdesk-export.csv. Every phase stops by itself (a count and
a time limit). The client runs on the same two cores, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import contextlib

from bench.machine import machine

ROOT = Path(__file__).resolve().parent.parent
AXES = ("team", "topic")


def texts() -> list[str]:
    with (ROOT / "examples" / "helpdesk-export.csv").open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f) if row["text"].strip()]


# --- the server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, db: Path, port: int, workers: int):
        self.db, self.port, self.workers = db, port, workers
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start and wait for /healthz; returns the seconds it took."""
        started = time.perf_counter()
        command = Path(sys.executable).with_name("feedtag")
        self.process = subprocess.Popen(
            [str(command), "serve", "--port", str(self.port), "--db", str(self.db)]
            + ["--workers", str(self.workers)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a group of its own: SIGKILL reaches --workers too
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"feedtag serve exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("feedtag serve did not come up in 120 s")

    def rss_mib(self) -> float:
        """Resident memory of the serving processes (the workers' sum with --workers)."""
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if self.workers > 1 and children.exists():
            pids = [int(p) for p in children.read_text().split()]
        total = 0
        for pid in pids:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total / 1024

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)

    def kill(self) -> None:
        """SIGKILL the server and its workers: no shutdown of any kind."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


# --- a small HTTP/1.1 client ------------------------------------------------------------------


class Connection:
    """One keep-alive connection; ``post`` returns (status, body)."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, payload: bytes, headers: str = "") -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{headers}\r\n".encode()
            + payload
        )
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def hammer(port: int, clients: int, total: int, seconds: float, body) -> dict:
    """``total`` POST /v1/suggest over ``clients`` connections (stops at ``seconds``)."""
    latencies: list[float] = []
    counter = iter(range(total))
    deadline = time.perf_counter() + seconds
    errors = 0

    async def client() -> None:
        nonlocal errors
        connection = Connection(port)
        for i in counter:
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            status, _ = await connection.post("/v1/suggest", body(i))
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(1000 * percentile(latencies, 0.50), 2),
        "p99_ms": round(1000 * percentile(latencies, 0.99), 2),
        "errors": errors,
    }


# --- phases -----------------------------------------------------------------------------------


def single(port: int, corpus: list[str], quick: bool) -> dict:
    def body(i: int) -> bytes:
        return json.dumps({"id": str(i), "text": corpus[i % len(corpus)]}).encode()

    asyncio.run(hammer(port, 16, 500, 30, body))  # warm up
    return asyncio.run(hammer(port, 16, 2_000 if quick else 20_000, 60, body))


def batches(port: int, corpus: list[str], quick: bool) -> dict:
    def body(i: int) -> bytes:
        start = (i * 100) % len(corpus)
        chunk = (corpus * 2)[start : start + 100]
        return json.dumps({"messages": [{"id": str(j), "text": t} for j, t in enumerate(chunk)]})

    def encoded(i: int) -> bytes:
        return body(i).encode()

    asyncio.run(hammer(port, 8, 16, 30, encoded))
    result = asyncio.run(hammer(port, 8, 40 if quick else 200, 60, encoded))
    result["messages_per_second"] = round(result["per_second"] * 100)
    return result


def decision(n: int) -> bytes:
    return json.dumps(
        {
            "message_id": f"m{n}",
            "axis": AXES[n % 2],
            "suggested": "billing" if n % 2 == 0 else "bug-report",
            "confidence": 0.9,
            "action": "accepted",
            "agent": f"agent-{n % 8}",
        }
    ).encode()


async def post_decisions(
    port: int, numbers: list[int], acked: set[int], clients: int = 8, retry_share: float = 0.1
) -> None:
    """Post each decision until acknowledged; ``retry_share`` of them are sent twice anyway."""
    queue = list(numbers)
    rng = random.Random(0)

    async def client() -> None:
        connection = Connection(port)
        while queue:
            n = queue.pop()
            headers = f"Idempotency-Key: bench-{n}\r\n"
            for _ in range(2 if rng.random() < retry_share else 1):
                status, _ = await connection.post("/v1/decisions", decision(n), headers)
                if status not in (200, 201):
                    raise RuntimeError(f"decision {n}: HTTP {status}")
            acked.add(n)
        connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))


def count_rows(db: Path) -> tuple[int, int, set[int]]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        keys = [k for (k,) in connection.execute("SELECT idempotency_key FROM decisions")]
    finally:
        connection.close()
    return rows, len(set(keys)), {int(k.removeprefix("bench-")) for k in keys}


def decisions(port: int, db: Path, total: int) -> dict:
    acked: set[int] = set()
    started = time.perf_counter()
    asyncio.run(post_decisions(port, list(range(total)), acked))
    elapsed = time.perf_counter() - started
    rows, distinct, present = count_rows(db)
    return {
        "decisions": total,
        "acknowledged": len(acked),
        "rows": rows,
        "lost": len(acked - present),
        "doubled": rows - distinct,
        "seconds": round(elapsed, 1),
        "per_second": round(total / elapsed, 1),
    }


def killed(server: Server, db: Path, total: int) -> dict:
    """SIGKILL the server when half the decisions are acknowledged, restart, finish."""
    acked: set[int] = set()

    async def until_killed() -> None:
        task = asyncio.ensure_future(post_decisions(server.port, list(range(total)), acked))
        while len(acked) < total // 2:
            await asyncio.sleep(0.01)
        server.kill()
        with contextlib.suppress(OSError, asyncio.IncompleteReadError, RuntimeError):
            await task

    asyncio.run(until_killed())
    acked_at_kill = set(acked)
    rows_at_kill, _, present_at_kill = count_rows(db)
    restart = server.start()
    rest = [n for n in range(total) if n not in acked]
    asyncio.run(post_decisions(server.port, rest, acked))
    rows, distinct, present = count_rows(db)
    return {
        "acknowledged_before_kill": len(acked_at_kill),
        "rows_at_kill": rows_at_kill,
        "acknowledged_missing_at_kill": len(acked_at_kill - present_at_kill),
        "restart_seconds": round(restart, 1),
        "rows": rows,
        "lost": len(acked - present),
        "doubled": rows - distinct,
    }


def memory(server: Server, corpus: list[str], quick: bool) -> dict:
    total = 10_000 if quick else 100_000

    def word(i: int) -> str:  # a made-up name, as real messages bring: letters, never masked
        return "".join(chr(97 + (i * 7919 + k * 104729) % 26) for k in range(3)) + _letters(i)

    def body(i: int) -> bytes:
        text = f"{corpus[i % len(corpus)]} Regards, {word(i).title()}"
        return json.dumps({"id": str(i), "text": text}).encode()

    asyncio.run(hammer(server.port, 16, 1_000, 60, body))
    first = server.rss_mib()
    run = asyncio.run(hammer(server.port, 16, total - 1_000, 900, body))
    last = server.rss_mib()
    return {
        "requests": 1_000 + run["requests"],
        "rss_after_1000_mib": round(first, 1),
        f"rss_after_{total}_mib": round(last, 1),
        "growth": f"{100 * (last - first) / first:+.1f}%",
    }


def _letters(n: int) -> str:
    """``n`` written in base 26 with letters: a distinct word for every request."""
    out = ""
    while True:
        n, digit = divmod(n, 26)
        out += chr(97 + digit)
        if not n:
            return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="a tenth of the counts")
    parser.add_argument("--only", default="suggest,batch,decisions,kill,memory")
    args = parser.parse_args()
    phases = args.only.split(",")
    corpus = texts()
    print(machine())
    print(f"workers {args.workers}; {len(corpus)} distinct texts from examples/helpdesk-export.csv")
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        db = Path(tmp) / "decisions.sqlite"
        server = Server(db, free_port(), args.workers)
        print(f"started in {server.start():.1f} s")
        try:
            total = 1_000 if args.quick else 10_000
            if "suggest" in phases:
                print(
                    "single-message suggest, 16 clients:", single(server.port, corpus, args.quick)
                )
            if "batch" in phases:
                print("batches of 100, 8 clients:", batches(server.port, corpus, args.quick))
            if "decisions" in phases:
                print(
                    f"{total} decisions, 8 clients, 10% retried:", decisions(server.port, db, total)
                )
            if "kill" in phases:
                other = Server(Path(tmp) / "killed.sqlite", free_port(), args.workers)
                other.start()
                try:
                    print(f"{total} decisions, SIGKILL halfway:", killed(other, other.db, total))
                finally:
                    other.stop()
            if "memory" in phases:
                print("memory:", memory(server, corpus, args.quick))
        finally:
            server.stop()
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
