"""Start ``feedtag serve``: check everything first, then hand the socket to uvicorn.

Problems a user can fix (no token off loopback, a missing model, a port in use) are raised as
``FeedtagError`` before any worker starts, so the CLI reports them as one line. With one
worker the app is built in this process; with ``--workers N`` uvicorn spawns N processes that
each build it from the configuration in ``FEEDTAG_SERVE_CONFIG`` and load the model once.
SIGTERM or Ctrl-C stops accepting connections, lets requests in flight finish (up to
``GRACE`` seconds), then closes the decisions store.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from contextlib import contextmanager

from classifier.errors import FeedtagError, UsageError
from classifier.serve.config import CONFIG_ENV, ServeConfig
from classifier.serve.metrics import MULTIPROCESS_ENV

GRACE = 30  # seconds requests in flight get to finish after SIGTERM


class ServeError(FeedtagError):
    """The server could not start or stopped on an error."""


def check(config: ServeConfig) -> None:
    """What a worker needs, checked without loading the model: token, taxonomy, model files
    and the sentence encoder a model with one needs."""
    from classifier.model.store import check_tags, read_meta
    from classifier.review.decisions import DecisionStore
    from classifier.taxonomy import load_taxonomy

    config.token()
    taxonomy = load_taxonomy(config.taxonomy)
    meta = read_meta(config.model)
    check_tags(meta, taxonomy, config.model)
    if meta.get("encoder"):  # workers would each fail on it; say so once, before they start
        from types import SimpleNamespace

        from classifier.model.embedding import check_installed

        check_installed(SimpleNamespace(**meta["encoder"]), config.model)
    DecisionStore(config.db).close()  # creates or migrates it once, before workers race


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, or one clear line on why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as error:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port} ({error.strerror}); pick another --port"
        ) from None
    sock.set_inheritable(True)
    return sock


def run(config: ServeConfig) -> None:
    """Serve until SIGTERM or Ctrl-C.

    Raises
    ------
    FeedtagError
        Before serving: a missing token off loopback, an unusable model, taxonomy or decisions
        file, a port in use. After: the server failed to start.
    """
    import uvicorn

    check(config)
    sock = bind(config.host, config.port)
    options = {
        "host": config.host,
        "port": sock.getsockname()[1],
        "workers": config.workers,
        "access_log": config.access_log,
        "timeout_graceful_shutdown": GRACE,
        "server_header": False,
        "log_level": "info",
    }
    if config.workers == 1:
        from classifier.serve.app import create_app, load_service

        service = load_service(config)
        try:
            server = uvicorn.Server(uvicorn.Config(create_app(service), **options))
            server.run(sockets=[sock])
        finally:
            service.close()
            sock.close()
        if not server.started:
            raise ServeError(f"the server on {config.host}:{config.port} did not start; see above")
        return
    from uvicorn.supervisors import Multiprocess

    with _shared_metrics():
        os.environ[CONFIG_ENV] = config.to_json()
        uv = uvicorn.Config("classifier.serve.app:from_environment", factory=True, **options)
        try:
            Multiprocess(uv, sockets=[sock]).run()
        finally:
            sock.close()


@contextmanager
def _shared_metrics():
    """A directory where the workers' metrics meet (``prometheus_client`` multiprocess mode)."""
    directory = tempfile.mkdtemp(prefix="feedtag-metrics-")
    previous = os.environ.get(MULTIPROCESS_ENV)
    os.environ[MULTIPROCESS_ENV] = directory
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MULTIPROCESS_ENV, None)
        else:
            os.environ[MULTIPROCESS_ENV] = previous
        shutil.rmtree(directory, ignore_errors=True)
