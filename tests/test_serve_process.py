"""``feedtag serve`` as its own process: SIGTERM mid-request, and ``--workers``."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import time

import httpx
import pytest
from serve_fixtures import ProcessServer, save_tiny_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from conftest import FIXTURE_TAXONOMY

    from classifier.taxonomy import load_taxonomy

    root = tmp_path_factory.mktemp("serve-process")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    model = save_tiny_model(root / "tiny", load_taxonomy(taxonomy))
    return {"root": root, "args": ["--model", str(model), "--taxonomy", str(taxonomy)]}


def decision(n: int) -> dict:
    return {
        "message_id": f"m{n}",
        "axis": "team",
        "suggested": "web",
        "action": "accepted",
        "agent": "ann",
        "idempotency_key": f"key-{n}",
    }


def stored(db) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return [row[0] for row in connection.execute("SELECT message_id FROM decisions")]
    finally:
        connection.close()


def test_sigterm_finishes_the_request_in_flight_and_loses_no_decision(files):
    db = files["root"] / "sigterm.sqlite"
    server = ProcessServer([*files["args"], "--db", str(db)])
    with server:
        for n in range(5):
            assert httpx.post(f"{server.url}/v1/decisions", json=decision(n)).status_code == 201
        body = json.dumps(decision(5)).encode()
        head = (
            f"POST /v1/decisions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as slow:
            slow.sendall(head + body[:10])  # the request is in flight: half its body sent
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            with pytest.raises(httpx.TransportError):  # no new connections once stopping
                httpx.get(f"{server.url}/healthz", timeout=2)
            slow.sendall(body[10:])
            slow.settimeout(10)
            answer = b"".join(iter(lambda: slow.recv(65536), b"")).decode()  # to its close
        assert answer.startswith("HTTP/1.1 201 ")
        assert json.loads(answer.split("\r\n\r\n", 1)[1])["message_id"] == "m5"
        code, stderr = server.stop(None)
    # Drained, uvicorn ends the process by the signal it caught (exit 143 to a shell), as any
    # process SIGTERM ends; supervisors such as systemd count that as a clean stop.
    assert code == -signal.SIGTERM, stderr
    assert "Traceback" not in stderr and "Application shutdown complete" in stderr
    assert sorted(stored(db)) == [f"m{n}" for n in range(6)]


def test_workers_each_load_the_model_and_metrics_add_up_across_them(files):
    db = files["root"] / "workers.sqlite"
    server = ProcessServer([*files["args"], "--db", str(db), "--workers", "2"])
    with server:
        for _ in range(30):  # a new connection each: the workers take turns accepting
            answer = httpx.post(f"{server.url}/v1/suggest", json={"text": "the API is broken"})
            assert answer.status_code == 200
        assert httpx.post(f"{server.url}/v1/decisions", json=decision(1)).status_code == 201
        metrics = httpx.get(f"{server.url}/metrics").text
        code, stderr = server.stop(signal.SIGTERM)
    line = 'feedtag_requests_total{method="POST",route="/v1/suggest",status="200"} 30.0'
    assert line in metrics.splitlines()
    assert code == 0, stderr  # the supervisor of --workers returns once its workers are done
    assert stderr.count("Application startup complete") == 2
    assert stored(db) == ["m1"]
