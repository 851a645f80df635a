"""Small corpora with issue links, written by hand, for the tracker tests."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

TRACKER_TAXONOMY = textwrap.dedent(
    """\
    version: 1
    name: tracker-fixture
    axes:
      team:
        description: Which team owns it.
        tags:
          - id: web
            name: Web
          - id: api
            name: API
          - id: mobile
            name: Mobile
      topic:
        description: What kind of contact it is.
        tags:
          - id: bug-report
            name: Bug report
          - id: feature-request
            name: Feature request
          - id: question
            name: Question
    """
)
FIELDS = ["id", "conversation_id", "created_at", "user_id", "text", "tags", "issue"]


def write_taxonomy(directory: Path) -> Path:
    path = directory / "taxonomy.yaml"
    path.write_text(TRACKER_TAXONOMY, encoding="utf-8")
    return path


def write_corpus(path: Path, rows: list[dict[str, str]]) -> Path:
    """A CSV corpus; missing fields are empty, ids and conversations numbered if absent."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
    writer.writeheader()
    for number, row in enumerate(rows, start=1):
        full = {"id": f"m{number}", "conversation_id": f"c{number}", "user_id": f"u{number}"}
        full.update({"text": f"message {number}", "tags": "Web; Bug report", "issue": ""})
        full.update(row)
        writer.writerow({field: full.get(field, "") for field in FIELDS})
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def day(offset: int, hour: int = 12, base: str = "2026-11-30") -> str:
    """An ISO time ``offset`` days before ``base`` (a Monday), at ``hour`` UTC."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(base) - dt.timedelta(days=offset)
    return moment.replace(hour=hour).strftime("%Y-%m-%dT%H:%M:%SZ")
