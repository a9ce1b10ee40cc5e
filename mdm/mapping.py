"""Source mappings: per system and entity type, which source field becomes which attribute.

A mapping file is TOML (format in the README, "Mapping files"). It is checked whole when
read: an unknown entity type or attribute, a bad transform or a missing key is an error
naming the file and the key, and nothing from that file is used.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mdm.errors import MappingError
from mdm.specs import DEFAULT_SPECS, EntitySpec, SpecRegistry

FORMATS = ("csv", "jsonl", "fhir")
# What a reference field may hold of its parent (``FieldRule.by``; see ``mdm.locators``).
BY = ("source_id", "code", "name")
_DIGITS = re.compile(r"\D+")

TRANSFORMS: dict[str, Callable[[str], str]] = {
    "strip": str.strip,
    "upper": str.upper,
    "lower": str.lower,
    "title": str.title,
    "digits": lambda s: _DIGITS.sub("", s),
    "collapse_spaces": lambda s: " ".join(s.split()),
}


@dataclass(frozen=True)
class FieldRule:
    """How one canonical attribute is read from a source row."""

    fields: tuple[str, ...] = ()
    separator: str = " "
    constant: Any = None
    transforms: tuple[str, ...] = ()
    values: Mapping[str, Any] | None = None
    system: str | None = None  # a reference to a record of another system
    # What a reference field holds of its parent: its source id, code or name (located
    # within the system: ``mdm.locators``).
    by: str = "source_id"

    def apply(self, row: Mapping[str, Any]) -> Any:
        if not self.fields:
            return self.constant
        parts = [lookup(row, f) for f in self.fields]
        present = [p for p in parts if p not in (None, "")]
        if not present:
            return None
        value: Any = (
            present[0] if len(self.fields) == 1 else self.separator.join(str(p) for p in present)
        )
        if isinstance(value, str):
            for name in self.transforms:
                value = TRANSFORMS[name](value)
            if self.values is not None and value in self.values:
                value = self.values[value]
        if self.by != "source_id":
            # Located within the system (``mdm.locators``).
            return {"system": self.system, self.by: value} if self.system else {self.by: value}
        if self.system is not None:
            return {"system": self.system, "source_id": value}
        return value


@dataclass(frozen=True)
class EntityMapping:
    """The mapping of one file (or one kind of message) to one entity type."""

    entity_type: str
    source_id: str
    attributes: Mapping[str, FieldRule]
    file: Path | None = None
    format: str = "csv"
    encoding: str = "utf-8"  # the file's text encoding (ERP extracts are often cp1252)
    date_format: str | None = None
    deleted_field: str | None = None
    deleted_values: tuple[str, ...] = ()
    # Only rows whose ``where_field`` holds one of ``where_values`` (a file that holds
    # several systems' rows, each system mapping its own).
    where_field: str | None = None
    where_values: tuple[str, ...] = ()
    # SHA-256 of the system code and this table without its ``file``: a file mapped
    # otherwise is loaded again (``mdm.loader``), the same table naming another path is not.
    mapping_hash: str = ""

    def source_id_of(self, row: Mapping[str, Any]) -> str:
        value = lookup(row, self.source_id)
        return "" if value is None else str(value).strip()

    def attributes_of(self, row: Mapping[str, Any]) -> dict[str, Any]:
        result = {}
        for name, rule in self.attributes.items():
            value = rule.apply(row)
            if value not in (None, ""):
                result[name] = value
        return result

    def includes(self, row: Mapping[str, Any]) -> bool:
        """Whether the row is this mapping's (``where``); every row when there is none."""
        if self.where_field is None:
            return True
        value = lookup(row, self.where_field)
        return value is not None and str(value).strip() in self.where_values

    def is_deleted(self, row: Mapping[str, Any]) -> bool:
        if self.deleted_field is None:
            return False
        value = lookup(row, self.deleted_field)
        return value is not None and str(value).strip() in self.deleted_values


@dataclass(frozen=True)
class SystemMapping:
    code: str
    name: str
    entities: tuple[EntityMapping, ...]
    path: Path | None = None
    document: Mapping[str, Any] | None = None

    def for_entity(self, entity_type: str) -> EntityMapping | None:
        for entity in self.entities:
            if entity.entity_type == entity_type:
                return entity
        return None


def lookup(row: Mapping[str, Any], path: str) -> Any:
    """A field of a row; ``a.b`` reads into nested objects when no flat key ``a.b`` exists."""
    if path in row:
        return row[path]
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def load_mapping(path: Path, specs: SpecRegistry = DEFAULT_SPECS) -> SystemMapping:
    """Read and check a mapping file.

    Raises:
        MappingError: the file is not valid TOML or not a valid mapping.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise MappingError(f"{path}: {error}", field=str(path)) from None
    return parse_mapping(document, specs, path=path)


def parse_mapping(
    document: Mapping[str, Any], specs: SpecRegistry = DEFAULT_SPECS, *, path: Path | None = None
) -> SystemMapping:
    where = str(path) if path else "mapping"

    def fail(key: str, message: str) -> MappingError:
        return MappingError(f"{where}: {key}: {message}", field=key)

    system = document.get("system")
    if not isinstance(system, Mapping) or not isinstance(system.get("code"), str):
        raise fail("system.code", 'missing (a [system] table with code = "...")')
    entities = []
    raw_entities = document.get("entity", [])
    if not isinstance(raw_entities, list):
        raise fail("entity", "must be an array of tables ([[entity]])")
    for index, raw in enumerate(raw_entities):
        key = f"entity[{index}]"
        entity_type = raw.get("type")
        if entity_type not in specs:
            raise fail(f"{key}.type", f"unknown entity type {entity_type!r}")
        spec = specs[entity_type]
        if not isinstance(raw.get("source_id"), str):
            raise fail(f"{key}.source_id", "missing: the field holding the record's id")
        fmt = raw.get("format", "csv")
        if fmt not in FORMATS:
            raise fail(f"{key}.format", f"{fmt!r} is not one of {', '.join(FORMATS)}")
        encoding = raw.get("encoding", "utf-8")
        try:
            if not isinstance(encoding, str):
                raise LookupError(encoding)
            codecs.lookup(encoding)
        except LookupError:
            raise fail(f"{key}.encoding", f"unknown text encoding {encoding!r}") from None
        rules = {}
        for name, rule in (raw.get("attributes") or {}).items():
            attribute = spec.attribute(name)
            if attribute is None:
                raise fail(f"{key}.attributes.{name}", f"{spec.name} has no attribute {name!r}")
            where = f"{key}.attributes.{name}"
            if isinstance(rule, Mapping) and attribute.reference is None:
                for only in ("system", "by"):
                    if only in rule:
                        raise fail(where, f"{only} = ... is only for references")
            rules[name] = _parse_rule(rule, where, fail)
            if attribute.reference is not None:
                _check_by(rules[name].by, specs[attribute.reference], where, fail)
        deleted = raw.get("deleted")
        deleted_field: str | None = None
        deleted_values: tuple[str, ...] = ()
        if deleted is not None:
            if not isinstance(deleted, Mapping) or "field" not in deleted:
                raise fail(f"{key}.deleted", 'must be { field = "...", equals = [...] }')
            deleted_field = str(deleted["field"])
            deleted_values = tuple(str(v) for v in deleted.get("equals", []))
        where_field, where_values = _parse_where(raw.get("where"), f"{key}.where", fail)
        file = raw.get("file")
        entities.append(
            EntityMapping(
                entity_type=entity_type,
                source_id=raw["source_id"],
                attributes=rules,
                file=(path.parent / file) if (file and path) else (Path(file) if file else None),
                format=fmt,
                encoding=encoding,
                date_format=raw.get("date_format"),
                deleted_field=deleted_field,
                deleted_values=deleted_values,
                where_field=where_field,
                where_values=where_values,
                mapping_hash=_mapping_hash(system["code"], raw),
            )
        )
    return SystemMapping(
        code=system["code"],
        name=str(system.get("name", system["code"])),
        entities=tuple(entities),
        path=path,
        document=dict(document),
    )


def _parse_where(
    where: Any, key: str, fail: Callable[[str, str], MappingError]
) -> tuple[str | None, tuple[str, ...]]:
    """``where = { field = "source_system", equals = ["erp", "ERP"] }`` (or one value)."""
    if where is None:
        return None, ()
    if not isinstance(where, Mapping) or not isinstance(where.get("field"), str):
        raise fail(key, 'must be { field = "...", equals = "..." or [...] }')
    unknown = set(where) - {"field", "equals"}
    if unknown:
        raise fail(key, f"unknown keys {sorted(unknown)}")
    equals = where.get("equals")
    values = [equals] if isinstance(equals, str | int) else equals
    if not isinstance(values, list) or not values:
        raise fail(f"{key}.equals", "needs a value or a non-empty list of values")
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        raise fail(f"{key}.equals", "values must be strings or integers")
    return str(where["field"]), tuple(str(v).strip() for v in values)


def _mapping_hash(system: str, table: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"system": system, "entity": {k: v for k, v in table.items() if k != "file"}},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_rule(rule: Any, where: str, fail_at: Callable[[str, str], MappingError]) -> FieldRule:
    def fail(message: str) -> MappingError:
        return fail_at(where, message)

    if isinstance(rule, str):
        return FieldRule(fields=(rule,))
    if not isinstance(rule, Mapping):
        raise fail("must be a field name or a table")
    sources = [k for k in ("field", "fields", "constant") if k in rule]
    if len(sources) != 1:
        raise fail("needs exactly one of field, fields, constant")
    unknown = set(rule) - {
        "field",
        "fields",
        "constant",
        "transform",
        "values",
        "separator",
        "system",
        "by",
    }
    if unknown:
        raise fail(f"unknown keys {sorted(unknown)}")
    transforms = rule.get("transform", ())
    if isinstance(transforms, str):
        transforms = (transforms,)
    for name in transforms:
        if name not in TRANSFORMS:
            raise fail(f"unknown transform {name!r} (known: {', '.join(TRANSFORMS)})")
    values = rule.get("values")
    if values is not None and not isinstance(values, Mapping):
        raise fail("values must be a table of source value = canonical value")
    if "constant" in rule:
        return FieldRule(constant=rule["constant"])
    fields = (rule["field"],) if "field" in rule else tuple(rule["fields"])
    return FieldRule(
        fields=tuple(str(f) for f in fields),
        separator=str(rule.get("separator", " ")),
        transforms=tuple(transforms),
        values=values,
        system=str(rule["system"]) if "system" in rule else None,
        by=rule.get("by", BY[0]),
    )


def _check_by(
    by: Any, target: EntitySpec, where: str, fail: Callable[[str, str], MappingError]
) -> None:
    """``by`` names what the field holds of the parent, and the parent type has it."""
    if by not in BY:
        raise fail(f"{where}.by", f"{by!r} is not one of {', '.join(BY)}")
    if by != BY[0] and target.attribute(by) is None:
        raise fail(f"{where}.by", f"a {target.name} has no {by} to be found by")
