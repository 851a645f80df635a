"""What a ``feedtag serve`` process needs to know, and the rule that keeps it private.

The server binds to loopback by default. Any other address exposes the model and the
decisions store to a network, so it needs a bearer token (``--token-file`` or
``FEEDTAG_TOKEN``); without one the server refuses to start. The token is re-read by every
worker from the same place, so it never travels in the worker's configuration.
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from classifier.errors import UsageError

TOKEN_ENV = "FEEDTAG_TOKEN"
CONFIG_ENV = "FEEDTAG_SERVE_CONFIG"  # how ``run`` hands the configuration to its workers
MIN_TOKEN = 16
MIB = 1024 * 1024
PATHS = ("model", "taxonomy", "db", "token_file")


@dataclass(frozen=True)
class ServeConfig:
    """Options of ``feedtag serve``.

    Parameters
    ----------
    model : Path
        Model directory, loaded once per worker.
    taxonomy : Path or None
        Taxonomy file (``None``: the shipped one).
    db : Path
        Decisions file shared with ``review``, ``calibrate`` and ``train --decisions``.
    host, port : str, int
        Where to listen; a host other than loopback needs a token.
    workers : int
        Server processes (each loads the model once).
    token_file : Path or None
        A file holding the bearer token; ``FEEDTAG_TOKEN`` is read when it is ``None``.
    max_batch : int
        Messages one ``POST /v1/suggest`` or ``/v1/audit`` may carry.
    max_body : int
        Bytes a request body may have.
    access_log : bool
        One log line per request on stderr (off by default: ``/metrics`` counts them).
    """

    model: Path
    taxonomy: Path | None = None
    db: Path = Path("feedtag.decisions.sqlite")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    token_file: Path | None = None
    max_batch: int = 1000
    max_body: int = 2 * MIB
    access_log: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise UsageError(f"--workers {self.workers}: give at least 1")
        if not 0 <= self.port <= 65535:
            raise UsageError(f"--port {self.port}: not a TCP port (0-65535)")
        if self.max_batch < 1:
            raise UsageError(f"--max-batch {self.max_batch}: give at least 1")
        if self.max_body < 1024:
            raise UsageError(f"--max-body {self.max_body}: give at least 1024 bytes")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)

    def token(self) -> str | None:
        """The bearer token clients must send, or ``None`` (loopback only).

        Raises
        ------
        UsageError
            An unreadable, empty or short token, or a non-loopback host without one.
        """
        if self.token_file is not None:
            source = f"--token-file {self.token_file}"
            try:
                token = self.token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                raise UsageError(f"{source}: cannot read it ({error})") from None
            if not token:
                raise UsageError(f"{source}: the file is empty")
        else:
            source = TOKEN_ENV
            token = os.environ.get(TOKEN_ENV, "").strip()
            if not token:
                if self.loopback:
                    return None
                raise UsageError(
                    f"--host {self.host} is reachable from other machines: give a bearer "
                    f"token with --token-file FILE or {TOKEN_ENV}, or serve on 127.0.0.1"
                )
        if len(token) < MIN_TOKEN:
            raise UsageError(
                f"{source}: the token has {len(token)} characters; use at least {MIN_TOKEN}, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return token

    def to_json(self) -> str:
        return json.dumps(
            {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        )

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        raw = json.loads(text)
        paths = {k: Path(raw[k]) for k in PATHS if raw.get(k) is not None}
        return cls(**{**raw, **paths})


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
