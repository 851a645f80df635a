"""A tiny model saved to disk and a real ``feedtag serve`` on a free loopback port.

``ThreadServer`` runs uvicorn in a thread of the test process (fast: the libraries are already
imported); ``ProcessServer`` runs the installed ``feedtag serve`` command, for what needs a
process of its own: signals, ``--workers``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
from classifier_fixtures import tiny_corpus

TOKEN = "t0ken-for-the-tests-0123456789"


def save_tiny_model(directory: Path, taxonomy) -> Path:
    from classifier.model.estimator import TagClassifier
    from classifier.model.store import never_suggest, save_model

    corpus = pd.DataFrame(tiny_corpus())
    model = TagClassifier(folds=3, never_suggest=never_suggest(taxonomy))
    model.fit(corpus["text"], corpus[["team", "topic"]])
    save_model(model, directory, taxonomy, training={"rows": len(corpus), "source": "tiny.csv"})
    return directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, seconds: float = 60.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up in {seconds} s")


@dataclass
class ThreadServer:
    """uvicorn serving ``create_app`` in a thread, on a port the OS picked."""

    config: object
    url: str = ""
    server: object = None
    thread: threading.Thread | None = None

    def __enter__(self) -> ThreadServer:
        import uvicorn

        from classifier.serve.app import create_app, load_service
        from classifier.serve.server import bind

        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        app = create_app(load_service(self.config))
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        wait_until_up(self.url)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@dataclass
class ProcessServer:
    """``feedtag serve`` as its own process (the installed console script)."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProcessServer:
        self.port = self.port or free_port()
        command = Path(sys.executable).with_name("feedtag")
        self.process = subprocess.Popen(
            [str(command), "serve", "--port", str(self.port), *self.args],
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_until_up(self.url, process=self.process)
        return self

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
        """Signal the server (``None``: it was signalled already) and wait for it to exit."""
        if sig is not None:
            self.process.send_signal(sig)
        _, stderr = self.process.communicate(timeout=timeout)
        return self.process.returncode, stderr

    def __enter__(self) -> ProcessServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
