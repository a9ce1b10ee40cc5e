"""Readers for source files: CSV, JSON Lines and FHIR R4 JSON (Bundle or NDJSON)."""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mdm.errors import InvalidInputError


def read_rows(
    path: Path, fmt: str, encoding: str = "utf-8"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, row)`` from a source file.

    Raises:
        InvalidInputError: the file is missing, is not text in ``encoding``, or a line
            cannot be parsed.
    """
    if not path.exists():
        raise InvalidInputError(f"{path}: no such file", field="file")
    try:
        if fmt == "csv":
            yield from _read_csv(path, encoding)
        elif fmt == "jsonl":
            yield from _read_jsonl(path, encoding)
        elif fmt == "fhir":
            yield from _read_fhir(path, encoding)
        else:
            raise InvalidInputError(f"{path}: unknown format {fmt!r}", field="format")
    except UnicodeDecodeError as error:
        raise _not_text(path, encoding, error, None) from None


def file_hash(path: Path, encoding: str | None = None) -> str:
    """SHA-256 of a source file's bytes (how a load recognizes a file it applied before).
    With ``encoding``, the bytes are also decoded as they are read, so a file that is not
    text in that encoding is refused before anything of it is written.

    Raises:
        InvalidInputError: the file is missing, cannot be read, or is not ``encoding`` text.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
    offset = 0
    line = 1
    try:
        with path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
                if decoder is not None:
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as error:
                        error.start += offset
                        line += block.count(b"\n", 0, max(0, error.start - offset))
                        raise _not_text(path, encoding or "", error, line) from None
                    line += block.count(b"\n")
                    offset += len(block)
            if decoder is not None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError as error:
                    raise _not_text(path, encoding or "", error, line) from None
    except OSError as error:
        reason = "no such file" if isinstance(error, FileNotFoundError) else error
        raise InvalidInputError(f"{path}: {reason}", field="file") from None
    return digest.hexdigest()


def _not_text(
    path: Path, encoding: str, error: UnicodeDecodeError, line: int | None
) -> InvalidInputError:
    where = f"line {line}, " if line is not None else ""
    return InvalidInputError(
        f"{path}: not {encoding} text ({where}byte {error.start}: {error.reason}); "
        'declare the file\'s encoding in its mapping, e.g. encoding = "cp1252"',
        field="encoding",
    )


def _read_csv(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    # A UTF-8 byte-order mark (Excel writes one) is not part of the first header.
    encoding = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if k is not None}


def _read_jsonl(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding=encoding) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = orjson.loads(line)  # several times faster than json, same errors
            except orjson.JSONDecodeError as error:
                raise InvalidInputError(f"{path}:{number}: {error.msg}", field="file") from None
            if not isinstance(value, dict):
                raise InvalidInputError(f"{path}:{number}: not a JSON object", field="file")
            yield number, value


def _read_fhir(path: Path, encoding: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """A FHIR Bundle or single resource (JSON), or NDJSON with one resource a line."""
    text = path.read_text(encoding=encoding)
    resources: list[Any]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole_error:
        resources = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                resources.append(json.loads(line))
            except json.JSONDecodeError:
                raise InvalidInputError(
                    f"{path}: neither FHIR JSON nor NDJSON (line {whole_error.lineno}: "
                    f"{whole_error.msg}; NDJSON line {number} does not parse)",
                    field="file",
                ) from None
    else:
        if isinstance(document, dict) and document.get("resourceType") == "Bundle":
            resources = [e.get("resource") for e in document.get("entry", [])]
        else:
            resources = [document]
    for number, resource in enumerate(resources, start=1):
        if isinstance(resource, dict):
            yield number, flatten_fhir(resource)


def _last_segment(reference: Any) -> str | None:
    if isinstance(reference, dict):
        reference = reference.get("reference")
    if not isinstance(reference, str) or not reference:
        return None
    return reference.rsplit("/", 1)[-1]


def _first_code(concept: Any) -> str | None:
    if isinstance(concept, list):
        concept = concept[0] if concept else None
    if not isinstance(concept, dict):
        return None
    for coding in concept.get("coding", []):
        if coding.get("code"):
            return str(coding["code"])
    return concept.get("text")


def flatten_fhir(resource: dict[str, Any]) -> dict[str, Any]:
    """Flatten a FHIR Location or Organization into the keys mappings refer to.

    ``identifier|<system>`` holds the first identifier value of that system;
    ``partOf`` and ``managingOrganization`` hold the referenced resource's id.
    """
    flat: dict[str, Any] = {
        "id": resource.get("id"),
        "resourceType": resource.get("resourceType"),
        "name": resource.get("name"),
        "status": resource.get("status"),
        "description": resource.get("description"),
        "type": _first_code(resource.get("type")),
        "physicalType": _first_code(resource.get("physicalType")),
        "partOf": _last_segment(resource.get("partOf")),
        "managingOrganization": _last_segment(resource.get("managingOrganization")),
    }
    if isinstance(resource.get("active"), bool) and flat["status"] is None:
        flat["status"] = "active" if resource["active"] else "inactive"
    alias = resource.get("alias")
    if isinstance(alias, list) and alias:
        flat["alias"] = alias[0]
    for identifier in resource.get("identifier", []):
        system = identifier.get("system")
        if system and f"identifier|{system}" not in flat:
            flat[f"identifier|{system}"] = identifier.get("value")
    address = resource.get("address")
    if isinstance(address, list):
        address = address[0] if address else None
    if isinstance(address, dict):
        lines = [str(x) for x in address.get("line", [])]
        flat["address.line"] = ", ".join(lines) if lines else None
        flat["address.line1"] = lines[0] if lines else None
        flat["address.line2"] = lines[1] if len(lines) > 1 else None
        for part in ("city", "state", "postalCode", "country"):
            flat[f"address.{part}"] = address.get(part)
    return flat
