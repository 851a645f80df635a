"""Build the examples of ``feedtag sample``, ``agreement`` and ``taxonomy diff`` (seeded).

Reads only files inside the repository: ``examples/helpdesk-export.csv``, its true tags in
``examples/source/export_truth.csv`` and ``taxonomy.yaml``. Writes:

- ``examples/sample.csv`` and ``examples/sample.key.csv``: ``feedtag sample --n 200 --blind
  --seed 16`` of the export (the blind sample and its key);
- ``examples/sample-retagged.csv``: the sample re-tagged by a careful lead. Her tags are the
  true ones, except where she reads a message differently from the writer (about 4% of
  topics and 2% of teams, a confusable tag instead), because a lead is no oracle either;
- ``examples/sample-retagged-long.csv``: that lead and a second one (about 8% of topics read
  differently), one row per message and lead, with a ``tagger`` column;
- ``examples/taxonomy-changed.yaml``: the shipped taxonomy with the edits a team makes over a
  year: a merge, a rename to a new id, a split, a dropped alias, the retired Growth team
  deleted, a new topic, a description edited and a tag made human-only.

Usage: python examples/build_quality_examples.py
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from classifier.corpus import load_corpus  # noqa: E402
from classifier.quality.sample import draw_sample, write_sample  # noqa: E402
from classifier.taxonomy import load_taxonomy  # noqa: E402

SEED = 16
CONFUSABLE = {  # the other reading a careful person may have of the same message
    "bug-report": "outage",
    "outage": "bug-report",
    "unaware": "confused",
    "confused": "unaware",
    "user-issue": "confused",
    "feature-request": "unaware",
    "pricing-question": "churn-feedback",
    "churn-feedback": "pricing-question",
    "positive-feedback": "feature-request",
    "messenger": "mobile",
    "mobile": "messenger",
    "inbox": "messenger",
    "outbound": "messenger",
    "platform": "mobile",
    "billing": "infrastructure",
    "infrastructure": "platform",
}


def retag(rng, truth: pd.DataFrame, taxonomy, team_rate: float, topic_rate: float):
    """Tag names a lead writes: the true tag, or with the given rates its confusable one."""
    columns = {}
    for axis, rate in (("team", team_rate), ("topic", topic_rate)):
        true = truth[axis].to_numpy()
        other = np.where(rng.random(len(true)) < rate, [CONFUSABLE[t] for t in true], true)
        columns[axis] = [taxonomy.tag(axis, t).name for t in other]
    return columns


def changed_taxonomy(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data = copy.deepcopy(data)
    team, topic = data["axes"]["team"]["tags"], data["axes"]["topic"]["tags"]

    def find(tags, tag_id):
        return next(t for t in tags if t["id"] == tag_id)

    # Merge: 'Confused' and 'Unaware' kept being mixed up; Confused retires into Unaware.
    confused = find(topic, "confused")
    confused["deprecated"], confused["replaced_by"] = True, "unaware"
    # Rename to a new id: the platform team is now the integrations team; its old names stay
    # as aliases so history resolves.
    platform = find(team, "platform")
    old_name = platform["name"]
    platform["id"], platform["name"] = "integrations", "Integrations"
    platform["aliases"] = [old_name, "platform", "Team: Platform", "API", "Team: Integrations"]
    # Split: infrastructure becomes reliability and security; its spellings go to both.
    infra = find(team, "infrastructure")
    at = team.index(infra)
    reliability = {
        "id": "reliability",
        "name": "Reliability",
        "description": "Uptime, performance, hosting regions, status page and incidents.",
        "aliases": ["Infrastructure", "Team: Infrastructure", "Infra", "Team: Infra"],
    }
    security = {
        "id": "security",
        "name": "Security and compliance",
        "description": "Security, GDPR, SOC 2, HIPAA, data retention, deletion and audit logs.",
        "aliases": ["Security", "Compliance"],
    }
    team[at : at + 1] = [reliability, security]
    # The retired Growth team is deleted outright (its 'Team: Growth' tags lose their team).
    team.remove(find(team, "growth"))
    # A dropped alias: 'Billing question' is taken off pricing-question.
    pricing = find(topic, "pricing-question")
    pricing["aliases"] = [a for a in pricing["aliases"] if a != "Billing question"]
    # A description edited and a tag made human-only.
    issue = find(topic, "user-issue")
    issue["description"] = issue["description"].rstrip() + " Includes set-up questions."
    find(topic, "churn-feedback")["human_only"] = True
    # A new topic.
    topic.append(
        {
            "id": "data-request",
            "name": "Data request",
            "description": "A customer asks for an export, a copy or the deletion of their data.",
            "aliases": ["GDPR request", "DSAR"],
        }
    )
    return data


def main() -> None:
    rng = np.random.default_rng(SEED)
    taxonomy = load_taxonomy(ROOT / "taxonomy.yaml")
    corpus = load_corpus(str(HERE / "helpdesk-export.csv"), taxonomy)
    sample = draw_sample(corpus, 200, seed=SEED, blind=True)
    files = write_sample(sample, HERE / "sample.csv")
    truth = pd.read_csv(HERE / "source" / "export_truth.csv", dtype=str, keep_default_na=False)
    truth = truth.iloc[sample.positions].reset_index(drop=True)

    lead = sample.rows.copy()
    lead.update(pd.DataFrame(retag(rng, truth, taxonomy, 0.02, 0.04)))
    lead.to_csv(HERE / "sample-retagged.csv", index=False, lineterminator="\n")
    second = sample.rows.copy()
    second.update(pd.DataFrame(retag(rng, truth, taxonomy, 0.03, 0.08)))
    long = pd.concat([lead.assign(tagger="Lead A"), second.assign(tagger="Lead B")])
    long.to_csv(HERE / "sample-retagged-long.csv", index=False, lineterminator="\n")

    header = (
        "# feedtag example: taxonomy.yaml after a year of edits (built by\n"
        "# examples/build_quality_examples.py). Try: feedtag taxonomy diff taxonomy.yaml\n"
        "# examples/taxonomy-changed.yaml --corpus examples/helpdesk-export.csv\n"
    )
    changed = yaml.safe_dump(
        changed_taxonomy(ROOT / "taxonomy.yaml"), sort_keys=False, allow_unicode=True, width=100
    )
    (HERE / "taxonomy-changed.yaml").write_text(header + changed, encoding="utf-8")
    load_taxonomy(HERE / "taxonomy-changed.yaml")  # it must stay valid

    for path in (files.sample, files.key, "sample-retagged.csv", "sample-retagged-long.csv"):
        print(f"examples/{Path(path).name}")
    print("examples/taxonomy-changed.yaml")


if __name__ == "__main__":
    main()
