"""The model card: what a person should know before trusting a model directory."""

from __future__ import annotations

from typing import Any


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
        f"- Per-tag thresholds for a target precision of {meta.get('target_precision')} on "
        f"{params.get('folds')}-fold cross-validated predictions.",
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
    lines += ["", "## Cross-validated metrics", ""]
    rows = []
    for axis, report in meta["metrics"]["cross_validated"].items():
        rows.append(
            (
                axis,
                report["rows"],
                _pct(report["accuracy"]),
                _pct(report["macro_f1"]),
                _pct(report["coverage"]),
                _pct(report["accuracy_at_threshold"]),
                _pct(report["ece"]),
            )
        )
    lines.append(
        markdown_table(
            ("axis", "rows", "accuracy", "macro-F1", "auto share", "auto accuracy", "ECE"), rows
        )
    )
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
        "- Thresholds and calibration are estimated on the training distribution; re-check them "
        "with `feedtag evaluate` on recent, independently tagged messages.",
        "- Tags with few training messages are usually always `review`.",
        "",
    ]
    return "\n".join(lines)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"
