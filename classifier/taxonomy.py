"""The taxonomy: axes of mutually exclusive tags, loaded from YAML and validated.

Validation reports every problem at once as ``FILE:LINE: message`` so a lead fixes the file in
one pass instead of one error per run.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from classifier.errors import TaxonomyError

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
FORMAT_VERSION = 1

Match = Literal["exact", "alias", "deprecated", "unknown"]


def fold(label: str) -> str:
    """Fold a tag spelling so that case, spacing, ``-`` and ``_`` never tell two tags apart.

    Help-desk exports write the same tag as ``Bug report``, ``bug-report`` and ``BUG_REPORT``.
    """
    text = unicodedata.normalize("NFKC", label).casefold()
    return re.sub(r"[\s\-_]+", "", text)


class Tag(BaseModel):
    """One tag of an axis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    description: str = ""
    aliases: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    deprecated: bool = False
    replaced_by: str | None = None
    human_only: bool = False

    @property
    def suggestable(self) -> bool:
        """Whether the classifier may ever suggest this tag."""
        return not (self.deprecated or self.human_only)


class Axis(BaseModel):
    """A set of mutually exclusive tags: every message gets exactly one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    tags: tuple[Tag, ...]

    @property
    def ids(self) -> list[str]:
        return [tag.id for tag in self.tags]


@dataclass(frozen=True)
class Resolution:
    """How one raw tag string maps onto the taxonomy."""

    raw: str
    axis: str | None
    tag: str | None
    how: Match


class Taxonomy(BaseModel):
    """A validated taxonomy (format version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    name: str = Field(min_length=1)
    axes: dict[str, Axis] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Taxonomy:
        if info.context and "consistency" in info.context:
            return self  # load_taxonomy checks the raw data itself, with line numbers
        problems = [msg for _, msg in consistency_problems(self.model_dump(mode="json"))]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def sha256(self) -> str:
        """Hash of the content, not the file: comments and layout do not change it."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def tag(self, axis: str, tag_id: str) -> Tag:
        for tag in self.axes[axis].tags:
            if tag.id == tag_id:
                return tag
        raise KeyError(f"{axis}:{tag_id}")

    def suggestable(self, axis: str) -> list[str]:
        """Ids the classifier may suggest on an axis: not deprecated, not human-only."""
        return [tag.id for tag in self.axes[axis].tags if tag.suggestable]

    def successor(self, axis: str, tag_id: str) -> str:
        """Follow ``replaced_by`` to the live tag that took over from a retired one."""
        seen = {tag_id}
        tag = self.tag(axis, tag_id)
        while tag.replaced_by and tag.replaced_by not in seen:
            seen.add(tag.replaced_by)
            tag = self.tag(axis, tag.replaced_by)
        return tag.id

    @cached_property
    def _index(self) -> dict[str, tuple[str, str, Match]]:
        index: dict[str, tuple[str, str, Match]] = {}
        for axis_name, axis in self.axes.items():
            for tag in axis.tags:
                exact: Match = "deprecated" if tag.deprecated else "exact"
                alias: Match = "deprecated" if tag.deprecated else "alias"
                for spelling in tag.aliases:
                    index[fold(spelling)] = (axis_name, tag.id, alias)
                for spelling in (tag.id, tag.name):
                    index[fold(spelling)] = (axis_name, tag.id, exact)
        return index

    def resolve(self, raw: str, axis: str | None = None) -> Resolution:
        """Map a raw tag (id, name or alias, in any case or spacing) to its axis and id.

        With ``axis`` given (a per-axis column), tags of other axes count as unknown.
        """
        hit = self._index.get(fold(raw))
        if hit is None or (axis is not None and hit[0] != axis):
            return Resolution(raw, None, None, "unknown")
        return Resolution(raw, *hit)


def consistency_problems(data: Any) -> list[tuple[tuple[Any, ...], str]]:
    """Cross-field problems of a raw taxonomy mapping, as ``(location, message)`` pairs.

    Works on the raw YAML data, tolerating structural damage, so these are reported together
    with pydantic's field errors instead of after they are fixed.
    """
    problems: list[tuple[tuple[Any, ...], str]] = []
    axes = data.get("axes") if isinstance(data, dict) else None
    if not isinstance(axes, dict):
        return problems
    ids: dict[str, tuple[Any, ...]] = {}
    spellings: dict[str, tuple[str, tuple[Any, ...], str]] = {}
    replaced: list[tuple[tuple[Any, ...], str]] = []
    for axis_name, tag, where in _raw_tags(axes):
        tag_id = tag.get("id")
        if isinstance(tag_id, str):
            if tag_id in ids:
                problems.append((where + ("id",), f"duplicate id '{tag_id}'"))
            ids.setdefault(tag_id, where)
        owner = f"{axis_name}:{tag_id}"
        names = [("id", tag_id), ("name", tag.get("name"))]
        aliases = tag.get("aliases")
        if isinstance(aliases, list):
            names += [(("aliases", i), alias) for i, alias in enumerate(aliases)]
        for field, spelling in names:
            if not isinstance(spelling, str):
                continue
            key = fold(spelling)
            loc = where + (field if isinstance(field, tuple) else (field,))
            first = spellings.get(key)
            if first is None:
                spellings[key] = (owner, loc, spelling)
            elif first[0] != owner:
                problems.append(
                    (loc, f"'{spelling}' collides with '{first[2]}' of tag '{first[0]}'")
                )
        if isinstance(tag.get("replaced_by"), str):
            replaced.append((where + ("replaced_by",), tag["replaced_by"]))
    for loc, target in replaced:
        if target not in ids:
            problems.append((loc, f"replaced_by '{target}' names no tag in this file"))
    for axis_name, axis in axes.items():
        tags = axis.get("tags") if isinstance(axis, dict) else None
        if isinstance(tags, list) and len(tags) < 2:
            problems.append(
                (("axes", axis_name, "tags"), f"axis '{axis_name}' needs at least two tags")
            )
    return problems


def _raw_tags(axes: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], tuple[Any, ...]]]:
    for axis_name, axis in axes.items():
        tags = axis.get("tags") if isinstance(axis, dict) else None
        for i, tag in enumerate(tags if isinstance(tags, list) else []):
            if isinstance(tag, dict):
                yield axis_name, tag, ("axes", axis_name, "tags", i)


def default_taxonomy_path() -> Path:
    """The shipped taxonomy: inside the installed package, or at the source tree's root."""
    packaged = Path(__file__).parent / "_data" / "taxonomy.yaml"
    return packaged if packaged.is_file() else Path(__file__).parent.parent / "taxonomy.yaml"


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Read and validate a taxonomy file; ``None`` means the shipped default.

    Raises
    ------
    TaxonomyError
        With every problem found, each as ``FILE:LINE: message``.
    """
    path = Path(path) if path is not None else default_taxonomy_path()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise TaxonomyError([f"{path}: no such file; pass --taxonomy FILE"]) from None
    except IsADirectoryError:
        raise TaxonomyError([f"{path}: is a directory, not a taxonomy file"]) from None
    except UnicodeDecodeError as err:
        raise TaxonomyError([f"{path}: not UTF-8 (byte {err.start}); save it as UTF-8"]) from None
    if not text.strip():
        raise TaxonomyError([f"{path}: the file is empty; it needs version, name and axes"])
    from classifier.taxonomy_yaml import YamlProblem, read_yaml

    try:
        tree = read_yaml(text)
    except YamlProblem as err:
        line = f":{err.line}" if err.line is not None else ""
        raise TaxonomyError([f"{path}{line}: {err}"]) from None
    data, lines = tree.data, tree.lines
    found = [(line, f"duplicate key '{key}'") for key, line in tree.duplicates]
    if not isinstance(data, dict):
        raise TaxonomyError([f"{path}:1: expected a mapping with version, name and axes"])
    try:
        taxonomy = Taxonomy.model_validate(data, context={"consistency": "checked below"})
    except ValidationError as err:
        for error in err.errors():
            if error["type"] == "value_error" and not error["loc"]:
                continue  # consistency problems, reported below with their lines
            found.append((_line_of(lines, error["loc"]), _describe(error)))
    found += [(_line_of(lines, loc), message) for loc, message in consistency_problems(data)]
    if found:
        raise TaxonomyError([f"{path}:{line}: {message}" for line, message in sorted(found)])
    return taxonomy


def _describe(error: Any) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key '{error['loc'][-1]}'"
    if error["type"] == "string_pattern_mismatch":
        return f"{loc}: '{error['input']}' is not a kebab-case id (like 'bug-report')"
    if error["type"] == "literal_error" and error["loc"] == ("version",):
        return f"version must be {FORMAT_VERSION}, not {error['input']!r}"
    return f"{loc}: {error['msg']}"


def _line_of(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int:
    """Line of the deepest part of ``loc`` present in the file."""
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)
