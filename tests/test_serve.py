"""``feedtag serve`` against a real server on a loopback port: every endpoint, the token, bad
requests, idempotent decisions. Expectations come from the library and the CLI on the same
model, so the server is held to what ``suggest``, ``audit`` and ``taxonomy show`` print."""

from __future__ import annotations

import json
import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_fixtures import TOKEN, ThreadServer, save_tiny_model
from typer.testing import CliRunner

from classifier.errors import UsageError
from classifier.serve import ServeConfig, schemas
from cli import app

runner = CliRunner()
MAX_BATCH = 5
MAX_BODY = 8192
TEXT = "the API throws an error"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from conftest import FIXTURE_TAXONOMY

    from classifier.taxonomy import load_taxonomy

    root = tmp_path_factory.mktemp("serve")
    taxonomy = root / "taxonomy.yaml"
    taxonomy.write_text(FIXTURE_TAXONOMY, encoding="utf-8")
    model = save_tiny_model(root / "tiny", load_taxonomy(taxonomy))
    token = root / "token"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    return {"root": root, "taxonomy": taxonomy, "model": model, "token": token}


@pytest.fixture(scope="module")
def server(files):
    config = ServeConfig(
        model=files["model"],
        taxonomy=files["taxonomy"],
        db=files["root"] / "decisions.sqlite",
        token_file=files["token"],
        max_batch=MAX_BATCH,
        max_body=MAX_BODY,
    )
    with ThreadServer(config) as running:
        yield running


@pytest.fixture
def client(server):
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as http:
        yield http


def cli(files, *args):
    extra = ["--taxonomy", str(files["taxonomy"])]
    return runner.invoke(app, [*map(str, args), *extra])


def rows(files) -> list[tuple]:
    db = sqlite3.connect(files["root"] / "decisions.sqlite")
    try:
        return db.execute(
            "SELECT message_id, axis, action, final, idempotency_key FROM decisions ORDER BY seq"
        ).fetchall()
    finally:
        db.close()


# --- suggestions --------------------------------------------------------------------------------


def test_one_message_gets_what_suggest_format_json_prints(client, files):
    printed = cli(files, "suggest", TEXT, "--format", "json", "--model", files["model"])
    assert printed.exit_code == 0, printed.output
    answer = client.post("/v1/suggest", json={"id": "m1", "text": TEXT})
    assert answer.status_code == 200
    assert answer.json() == {"id": "m1", **json.loads(printed.stdout)}
    schemas.SuggestionOut.model_validate(answer.json())


def test_a_batch_answers_each_message_in_order_with_top_tags(client, files):
    from classifier.model.store import load_model
    from classifier.taxonomy import load_taxonomy

    model = load_model(files["model"], load_taxonomy(files["taxonomy"]))
    texts = ["the website is broken", "the API costs too much per seat", "love it"]
    messages = [{"id": 7, "text": texts[0]}, {"text": texts[1]}, {"id": "c", "text": texts[2]}]
    answer = client.post("/v1/suggest", json={"messages": messages, "top": 2})
    assert answer.status_code == 200
    expected = [
        {"id": given, **made.to_dict()}
        for given, made in zip(["7", None, "c"], model.suggest(texts, top=2), strict=True)
    ]
    assert answer.json() == {"suggestions": expected}
    for item in answer.json()["suggestions"]:
        assert all(len(axis["alternatives"]) == 1 for axis in item["axes"].values())
    schemas.SuggestionsOut.model_validate(answer.json())


# --- decisions ----------------------------------------------------------------------------------

DECISION = {
    "message_id": "m1",
    "axis": "team",
    "suggested": "api",
    "confidence": 0.91,
    "action": "accept",
    "agent": "ann",
}


def test_a_retried_decision_is_stored_once(client, files):
    before = len(rows(files))
    first = client.post("/v1/decisions", json=DECISION, headers={"Idempotency-Key": "retry-1"})
    again = client.post("/v1/decisions", json=DECISION, headers={"Idempotency-Key": "retry-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["replayed"] is False and again.json()["replayed"] is True
    assert again.json()["seq"] == first.json()["seq"]
    assert first.json()["final"] == "api" and first.json()["action"] == "accepted"
    assert first.json()["model_version"].startswith("tiny@")
    assert rows(files)[before:] == [("m1", "team", "accepted", "api", "retry-1")]
    schemas.DecisionOut.model_validate(first.json())


def test_the_key_may_come_in_the_body_and_a_reused_key_is_a_conflict(client, files):
    keyed = {**DECISION, "message_id": "m2", "idempotency_key": "body-key"}
    assert client.post("/v1/decisions", json=keyed).status_code == 201
    assert client.post("/v1/decisions", json=keyed).status_code == 200
    changed = {**keyed, "action": "overridden", "final": "web"}
    conflict = client.post("/v1/decisions", json=changed)
    assert conflict.status_code == 409
    assert conflict.json()["field"] == "idempotency_key"
    assert "'body-key' was used for another decision" in conflict.json()["error"]
    mismatch = client.post("/v1/decisions", json=keyed, headers={"Idempotency-Key": "other"})
    assert mismatch.status_code == 422 and mismatch.json()["field"] == "idempotency_key"
    assert [r for r in rows(files) if r[4] == "body-key"] == [
        ("m2", "team", "accepted", "api", "body-key")
    ]


def test_without_a_key_every_request_is_a_new_decision(client, files):
    skip = {"message_id": "m3", "axis": "topic", "action": "skip", "agent": "bob"}
    before = len(rows(files))
    assert [client.post("/v1/decisions", json=skip).status_code for _ in range(2)] == [201, 201]
    assert rows(files)[before:] == [("m3", "topic", "skipped", None, None)] * 2


def test_concurrent_retries_of_one_key_store_one_row(server, files):
    decision = {**DECISION, "message_id": "race", "idempotency_key": "race-key"}

    def post(_):
        with httpx.Client(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
            return http.post(f"{server.url}/v1/decisions", json=decision).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(post, range(16)))
    assert codes == [200] * 15 + [201]
    assert [r for r in rows(files) if r[0] == "race"] == [
        ("race", "team", "accepted", "api", "race-key")
    ]


def test_served_decisions_are_what_review_stats_read(client, files):
    override = {**DECISION, "message_id": "m4", "action": "overridden", "final": "web"}
    assert client.post("/v1/decisions", json=override).status_code == 201
    db = files["root"] / "decisions.sqlite"
    stats = cli(files, "review", "unused.csv", "--stats", "--format", "json", "--db", db)
    assert stats.exit_code == 0, stats.output
    overrides = json.loads(stats.stdout)["overrides"]
    assert {"axis": "team", "suggested": "api", "chosen": "web", "count": 1} in overrides


# --- audit, taxonomy, model ---------------------------------------------------------------------

AUDITED = [
    {"id": "a", "text": "the website is broken", "tags": ["Team: Web", "Topic: Bug"]},
    {"id": "b", "text": "pricing", "tags": "API; Web; Pricing question"},
    {"id": "c", "text": "", "tags": ["legacy", "nope"]},
    {"id": "d", "text": "the website is broken", "tags": ["API", "bug"]},
]


def test_audit_answers_what_audit_format_json_prints(client, files):
    corpus = files["root"] / "audited.jsonl"
    corpus.write_text("\n".join(json.dumps(m) for m in AUDITED) + "\n", encoding="utf-8")
    printed = cli(files, "audit", corpus, "--format", "json")
    assert printed.exit_code == 1, printed.output  # errors found
    expected = json.loads(printed.stdout)
    expected["summary"]["source"] = "request"
    answer = client.post("/v1/audit", json={"messages": AUDITED})
    assert answer.status_code == 200
    assert answer.json() == expected
    checks = {f["check"] for f in answer.json()["findings"]}
    assert {"alias-tag", "multiple-tags", "unknown-tag", "deprecated-tag", "empty-text"} <= checks
    schemas.AuditOut.model_validate(answer.json())


def test_audit_with_the_model_answers_what_audit_model_prints(client, files):
    corpus = files["root"] / "judged.jsonl"
    corpus.write_text("\n".join(json.dumps(m) for m in AUDITED) + "\n", encoding="utf-8")
    printed = cli(files, "audit", corpus, "--format", "json", "--model", files["model"])
    assert printed.exit_code == 1, printed.output
    expected = json.loads(printed.stdout)
    answer = client.post("/v1/audit", json={"messages": AUDITED, "model": True}).json()
    assert answer["summary"]["model"].startswith("model tiny@")
    assert answer["summary"]["health"] is not None
    expected["summary"].update(source="request", model=answer["summary"]["model"])
    assert answer == expected


def test_audit_takes_one_tag_per_axis_and_a_choice_of_checks(client):
    messages = [
        {"text": "hi", "axes": {"team": "Web", "topic": ["praise", "bug"]}},
        {"text": "yo", "axes": {"team": "nope", "topic": "praise"}},
    ]
    answer = client.post("/v1/audit", json={"messages": messages, "checks": ["multiple-tags"]})
    assert answer.status_code == 200
    found = [(f["row"], f["id"], f["check"], f["axis"]) for f in answer.json()["findings"]]
    assert found == [(1, "1", "multiple-tags", "topic")]


def test_taxonomy_is_what_taxonomy_show_prints(client, files):
    printed = runner.invoke(app, ["taxonomy", "show", str(files["taxonomy"]), "--format", "json"])
    assert printed.exit_code == 0, printed.output
    assert client.get("/v1/taxonomy").json() == json.loads(printed.stdout)


def test_model_names_its_version_calibration_and_thresholds(client, files):
    from classifier.model.store import read_meta

    meta = read_meta(files["model"])
    answer = client.get("/v1/model").json()
    assert answer["version"] == f"tiny@{meta['model_sha256'][:12]}"
    assert answer["thresholds"] == meta["thresholds"]
    assert answer["target_precision"] == meta["target_precision"]
    assert answer["taxonomy"]["name"] == "fixture"
    assert set(answer["calibration"]["ece"]) == {"team", "topic"}
    assert answer["calibration"]["axes"] == meta["calibration"]
    assert answer["calibration"]["description"].startswith("team: training data")
    assert answer["training"]["source"] == "tiny.csv"


# --- metrics and the published description ------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        found = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if found and ",".join(sorted(found.group(1).split(","))) == wanted:
            return float(found.group(2))
    return 0.0


def test_metrics_count_requests_latency_and_suggestions(client):
    before = client.get("/metrics").text
    for _ in range(3):
        client.post("/v1/suggest", json={"text": TEXT})
    client.post("/v1/suggest", json={"text": 3})
    after = client.get("/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    route = {"route": "/v1/suggest"}

    def grew(name: str, **labels: str) -> float:
        return metric(after.text, name, **labels) - metric(before, name, **labels)

    assert grew("feedtag_requests_total", method="POST", status="200", **route) == 3
    assert grew("feedtag_requests_total", method="POST", status="422", **route) == 1
    assert grew("feedtag_request_duration_seconds_count", **route) == 4
    made = sum(grew("feedtag_suggestions_total", axis="team", status=s) for s in ("auto", "review"))
    assert made == 3


def test_openapi_describes_every_route_with_the_validating_schemas(client):
    from classifier.serve.app import ROUTES

    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert {route.path for route in ROUTES} == set(document["paths"])
    decision = document["components"]["schemas"]["DecisionIn"]
    assert decision["required"] == ["message_id", "axis", "action", "agent"]
    assert decision["additionalProperties"] is False
    assert document["paths"]["/healthz"]["get"]["security"] == []


# --- the token ----------------------------------------------------------------------------------

ENDPOINTS = [
    ("GET", "/v1/taxonomy"),
    ("GET", "/v1/model"),
    ("GET", "/metrics"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/suggest"),
    ("POST", "/v1/decisions"),
    ("POST", "/v1/audit"),
    ("GET", "/no/such/route"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-of-some-length", TOKEN])
def test_every_endpoint_but_healthz_wants_the_token(server, method, path, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = httpx.request(method, f"{server.url}{path}", headers=headers, json={"text": "hi"})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in answer.json()["error"]


def test_healthz_answers_without_a_token(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}


def test_the_token_rule(tmp_path, monkeypatch):
    monkeypatch.delenv("FEEDTAG_TOKEN", raising=False)
    local = ServeConfig(model=tmp_path)
    assert local.token() is None
    with pytest.raises(UsageError, match=r"--host 0\.0\.0\.0 is reachable from other machines"):
        ServeConfig(model=tmp_path, host="0.0.0.0").token()
    monkeypatch.setenv("FEEDTAG_TOKEN", "short")
    with pytest.raises(UsageError, match="FEEDTAG_TOKEN: the token has 5 characters"):
        ServeConfig(model=tmp_path, host="0.0.0.0").token()
    monkeypatch.setenv("FEEDTAG_TOKEN", TOKEN)
    assert ServeConfig(model=tmp_path, host="0.0.0.0").token() == TOKEN
    assert ServeConfig(model=tmp_path).token() == TOKEN  # given, loopback checks it too
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(UsageError, match="the file is empty"):
        ServeConfig(model=tmp_path, host="::1", token_file=empty).token()
    assert ServeConfig(model=tmp_path, host="localhost").loopback
    assert ServeConfig(model=tmp_path, host="127.1.2.3").loopback
    assert not ServeConfig(model=tmp_path, host="10.0.0.1").loopback


def test_serve_off_loopback_without_a_token_refuses_in_one_line(files, monkeypatch):
    monkeypatch.delenv("FEEDTAG_TOKEN", raising=False)
    result = cli(files, "serve", "--host", "0.0.0.0", "--model", files["model"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: --host 0.0.0.0 is reachable from other machines: give a bearer token with "
        "--token-file FILE or FEEDTAG_TOKEN, or serve on 127.0.0.1"
    ]


def test_serve_on_a_port_in_use_refuses_in_one_line(files, server, tmp_path):
    port = server.url.rsplit(":", 1)[1]
    args = ["serve", "--port", port, "--model", files["model"], "--db", tmp_path / "d.sqlite"]
    result = cli(files, *args)
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


# --- bad requests -------------------------------------------------------------------------------

GOOD = {"message_id": "x", "axis": "team", "action": "skipped", "agent": "ann"}
BAD = [
    ("/v1/suggest", b'{"text": "hi"', 400, None),
    ("/v1/suggest", b"", 400, None),
    ("/v1/suggest", b'{"text": NaN}', 400, None),
    ("/v1/suggest", b"\xff\xfe\x00", 400, None),
    ("/v1/suggest", b"[" * 4000 + b"]" * 4000, 400, None),
    ("/v1/suggest", b'["hi"]', 422, None),
    ("/v1/suggest", {"txt": "hi"}, 422, "text"),
    ("/v1/suggest", {"text": 5}, 422, "text"),
    ("/v1/suggest", {"text": " \n"}, 422, "text"),
    ("/v1/suggest", {"text": "hi", "top": 0}, 422, "top"),
    ("/v1/suggest", {"text": "hi", "top": "3"}, 422, "top"),
    ("/v1/suggest", {"messages": []}, 422, "messages"),
    ("/v1/suggest", {"messages": "hi"}, 422, "messages"),
    ("/v1/suggest", {"messages": [{"text": "a"}, {"id": [1], "text": "b"}]}, 422, "messages[1].id"),
    ("/v1/suggest", {"messages": [{"text": "a"}] * (MAX_BATCH + 1)}, 422, "messages"),
    ("/v1/suggest", {"text": "x" * MAX_BODY}, 413, None),
    ("/v1/decisions", {k: v for k, v in GOOD.items() if k != "agent"}, 422, "agent"),
    ("/v1/decisions", {**GOOD, "axis": "colour"}, 422, "axis"),
    ("/v1/decisions", {**GOOD, "action": "maybe"}, 422, "action"),
    ("/v1/decisions", {**GOOD, "final": "web"}, 422, "final"),
    ("/v1/decisions", {**GOOD, "action": "overridden", "final": "nope"}, 422, "final"),
    (
        "/v1/decisions",
        {**GOOD, "action": "accepted", "suggested": "web", "final": "api"},
        422,
        "final",
    ),
    ("/v1/decisions", {**GOOD, "confidence": 1.5}, 422, "confidence"),
    ("/v1/decisions", {**GOOD, "confidence": "high"}, 422, "confidence"),
    ("/v1/decisions", {**GOOD, "agent": None}, 422, "agent"),
    ("/v1/decisions", {**GOOD, "idempotency_key": ""}, 422, "idempotency_key"),
    ("/v1/audit", {"messages": [{"text": "hi"}]}, 422, "messages"),
    ("/v1/audit", {"messages": [{"text": "hi", "tags": 3}]}, 422, "messages[0].tags"),
    (
        "/v1/audit",
        {"messages": [{"text": "hi", "axes": {"colour": "red"}}]},
        422,
        "messages[0].axes",
    ),
    ("/v1/audit", {"messages": [{"text": "hi", "tags": "Web"}], "checks": ["nope"]}, 422, "checks"),
    ("/v1/audit", {"messages": [{"tags": "Web"}]}, 422, "messages[0].text"),
    (
        "/v1/audit",
        {"messages": [{"text": "a", "tags": "Web"}], "checks": ["suspect-tag"]},
        422,
        "checks",
    ),
    ("/v1/audit", {"messages": [{"text": "a", "tags": "Web"}], "model": "yes"}, 422, "model"),
]


@pytest.mark.parametrize(("path", "body", "status", "field"), BAD)
def test_a_bad_request_is_a_4xx_naming_the_field(client, path, body, status, field):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["field"] == field
    assert error["error"] and "\n" not in error["error"] and "Traceback" not in answer.text
    if field is not None:
        assert error["error"].startswith(f"{field}: ")
    schemas.ErrorOut.model_validate(error)
    assert client.get("/healthz").status_code == 200  # and the server keeps serving


def test_a_chunked_body_over_the_limit_is_cut_off(client):
    def chunks():
        for _ in range(MAX_BODY // 1024 + 2):
            yield b" " * 1024

    answer = client.post("/v1/suggest", content=chunks())
    assert answer.status_code == 413
    assert f"over {MAX_BODY} bytes" in answer.json()["error"]


def test_wrong_method_and_unknown_route_answer_json(client):
    wrong = client.get("/v1/suggest")
    assert (wrong.status_code, wrong.json()["error"]) == (405, "GET is not allowed on /v1/suggest")
    missing = client.get("/v2/nothing")
    assert (missing.status_code, missing.json()["error"]) == (404, "no route /v2/nothing")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id",
    "text",
    "messages",
    "top",
    "message_id",
    "axis",
    "suggested",
    "final",
    "action",
    "agent",
    "confidence",
    "tags",
    "axes",
    "checks",
    "model",
    "idempotency_key",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/suggest", "/v1/decisions", "/v1/audit"]),
    body=JSON | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6),
)
def test_no_body_makes_the_server_answer_5xx(client, path, body):
    answer = client.post(path, json=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert set(answer.json()) == {"error", "field", "problems"}
