"""A tiny labelled corpus for classifier tests: words that point at each team and topic."""

from __future__ import annotations

import random

TEAM_WORDS = {
    "web": ["website", "browser", "page", "landing page", "web app"],
    "api": ["API", "endpoint", "access token", "webhook", "REST call"],
}
TOPIC_WORDS = {
    "bug": ["is broken", "throws an error", "crashes", "fails with a 500"],
    "praise": ["is great, thanks", "works beautifully, love it", "is so fast now, well done"],
    "pricing": [
        "costs too much per seat",
        "shows a wrong price on the invoice",
        "needs a discount",
    ],
    "escalation": ["I want your manager now", "our lawyer will contact you"],
}
FILLER = ["Hi,", "Hello team,", "", "Quick note:", "Urgent:"]


def tiny_corpus(n: int = 160, seed: int = 0) -> list[dict[str, str]]:
    """Rows with id, text, team and topic; every (team, topic) pair appears."""
    rng = random.Random(seed)
    rows = []
    teams, topics = list(TEAM_WORDS), list(TOPIC_WORDS)
    for i in range(n):
        team, topic = teams[i % len(teams)], topics[(i // 2) % len(topics)]
        text = (
            f"{rng.choice(FILLER)} the {rng.choice(TEAM_WORDS[team])} "
            f"{rng.choice(TOPIC_WORDS[topic])} (ticket {rng.randint(100, 999)})"
        ).strip()
        rows.append({"id": f"m{i}", "text": text, "team": team, "topic": topic})
    return rows
