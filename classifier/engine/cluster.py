"""Connecting to a Dask cluster: an existing one by its scheduler's address, or one started here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from classifier.errors import UsageError

if TYPE_CHECKING:
    from distributed import Client

CONNECT_TIMEOUT = "5s"  # a scheduler that does not answer in this long is not there
INSTALL = "pip install 'feedtag[dask]'"


def require_dask() -> None:
    """Raise a one-line ``UsageError`` naming the extra when Dask ``distributed`` is missing."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise UsageError(f"--engine dask needs Dask distributed: {INSTALL}") from None


def local_workers() -> int:
    """One worker per usable core (each single-threaded: the model's work holds the GIL)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextmanager
def engine_client(
    scheduler: str | None = None, *, workers: int | None = None, **cluster: Any
) -> Iterator[Client]:
    """A ``distributed.Client`` for the duration of the block.

    With ``scheduler`` (``tcp://HOST:8786``) it connects to that cluster, waiting at most
    ``CONNECT_TIMEOUT``; without, it starts a ``LocalCluster`` of ``workers`` single-threaded
    worker processes (default: one per core) and shuts it down at the end. ``cluster`` passes
    more ``LocalCluster`` options (``memory_limit``).

    Raises
    ------
    UsageError
        When the extra is not installed, or no scheduler answers at ``scheduler``.
    """
    require_dask()
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=True)
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            detail = " ".join(str(err).split())[:160] or type(err).__name__
            raise UsageError(
                f"--scheduler {scheduler}: no Dask scheduler answered within {CONNECT_TIMEOUT} "
                f"({detail}); give its address as tcp://HOST:8786, or leave --scheduler out "
                "to start a local cluster"
            ) from None
        with client:
            yield client
        return
    options: dict[str, Any] = {
        "n_workers": workers or local_workers(),
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",  # any free port: never clash with a cluster already here
        "silence_logs": logging.ERROR,
    }
    options.update(cluster)
    with LocalCluster(**options) as local, Client(local, set_as_default=True) as client:
        yield client


def broadcast(client: Client, value: Any) -> Any:
    """``value`` sent once to every worker; the future stands for it in tasks' arguments."""
    return client.scatter(value, broadcast=True, hash=False)
