"""Drive a review without a terminal: keys from the command line, one line out per key.

``python -m classifier.review.headless CORPUS --suggester MODULE:FACTORY --keys "enter s u q"``
runs the real app under Textual's pilot and, after each key has been handled, prints one JSON
line with the decisions that stand for the messages under review. Whatever a line reports is
already in the decisions file, so a test can kill the process at any point and compare. The
suggester factory takes the taxonomy and returns a ``Suggest`` callable.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Sequence

from classifier.review.session import ONLY, ReviewSession


def load_factory(spec: str) -> Callable:
    module, _, name = spec.partition(":")
    if not module or not name:
        raise SystemExit(f"--suggester {spec!r}: write it as MODULE:FACTORY")
    return getattr(importlib.import_module(module), name)


def snapshot(session: ReviewSession) -> dict:
    """What the screen shows as decided, and where the review stands."""
    item = session.current
    return {
        "decided": sorted(
            [d.message_id, d.axis, d.action, d.final] for d in session.decided.values()
        ),
        "current": None if item is None else item.id,
    }


async def drive(
    session: ReviewSession, keys: Sequence[str], pause: float = 0.0, report=print
) -> None:
    """Press ``keys`` one by one in the review app, reporting a snapshot after each."""
    from classifier.review.app import ReviewApp

    app = ReviewApp(session)
    async with app.run_test(size=(100, 30)) as pilot:
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            if not app.is_running:  # quit (or crashed: run_test re-raises on the way out)
                break
            report(json.dumps({"key": key, **snapshot(session)}))
            if pause:
                await asyncio.sleep(pause)


def main(argv: Sequence[str] | None = None) -> int:
    from classifier.corpus import load_corpus
    from classifier.review.decisions import DecisionStore, default_db_path
    from classifier.taxonomy import load_taxonomy

    parser = argparse.ArgumentParser(prog="python -m classifier.review.headless")
    parser.add_argument("corpus")
    parser.add_argument("--suggester", required=True, help="MODULE:FACTORY(taxonomy) -> Suggest")
    parser.add_argument("--keys", required=True, help="key names separated by spaces")
    parser.add_argument("--db")
    parser.add_argument("--taxonomy")
    parser.add_argument("--agent", default="headless")
    parser.add_argument("--only", choices=ONLY, default="incomplete")
    parser.add_argument("--pause", type=float, default=0.0, help="seconds between keys")
    args = parser.parse_args(argv)

    taxonomy = load_taxonomy(args.taxonomy)
    corpus = load_corpus(args.corpus, taxonomy)
    suggest = load_factory(args.suggester)(taxonomy)
    with DecisionStore(args.db or default_db_path(args.corpus)) as store:
        session = ReviewSession(corpus, store, suggest, agent=args.agent, only=args.only)
        report = lambda line: print(line, flush=True)  # noqa: E731
        asyncio.run(drive(session, args.keys.split(), args.pause, report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
