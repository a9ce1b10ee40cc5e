"""Where generated records go: the systems' files, the truth and the defects list."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from . import mappings as gm
from .layouts import CHANGE_FILES, EHR_BASE_URL, ERP_HDR, FILES
from .mappings import MAPPINGS


class Sink:
    """Open output files, the truth file and the defects file; count records."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.counts: dict[str, int] = {}
        self.companies: list[tuple[str, str, str]] = []  # (number, mnemonic, name)
        self._fh: dict[str, TextIO] = {}
        self._csv: dict[str, tuple[Any, list[str]]] = {}
        self._fhir_first: dict[str, bool] = {}
        out.mkdir(parents=True, exist_ok=True)
        self.truth = csv.writer(self._open("truth.csv"), lineterminator="\n")
        self.truth.writerow(["entity_type", "system", "source_id", "entity_key"])
        self.defects = csv.writer(self._open("defects.csv"), lineterminator="\n")
        self.defects.writerow(["entity_type", "system", "source_id", "attribute", "kind", "value"])
        for (system, etype), rel in [*FILES.items(), *CHANGE_FILES.items()]:
            fh = self._open(rel)
            if rel.endswith(".csv"):
                hdr = ERP_HDR[etype]
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(hdr)
                self._csv[rel] = (w, hdr)
            elif rel.endswith(".json"):
                fh.write('{"resourceType": "Bundle", "type": "collection", "entry": [\n')
                self._fhir_first[rel] = True
            if rel in FILES.values():
                self.counts[f"{system}.{etype}"] = 0

    def _open(self, rel: str) -> TextIO:
        p = self.out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        fh = p.open("w", encoding="utf-8", newline="")
        self._fh[rel] = fh
        return fh

    def write(self, system: str, etype: str, sid: str, key: str, rec: dict[str, Any]) -> None:
        rel = FILES[(system, etype)]
        fh = self._fh[rel]
        if rel in self._csv:
            w, hdr = self._csv[rel]
            w.writerow(["" if rec.get(h) is None else rec[h] for h in hdr])
        elif rel in self._fhir_first:
            sep = "" if self._fhir_first[rel] else ",\n"
            self._fhir_first[rel] = False
            entry = {"fullUrl": f"{EHR_BASE_URL}Location/{sid}", "resource": rec}
            fh.write(sep + json.dumps(entry, ensure_ascii=False))
        else:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        self.truth.writerow([etype, system, sid, key])
        self.counts[f"{system}.{etype}"] += 1

    def write_change(self, system: str, etype: str, rec: dict[str, Any]) -> None:
        """A later version of a record already written: no truth row (same record)."""
        rel = CHANGE_FILES[(system, etype)]
        if rel in self._csv:
            w, hdr = self._csv[rel]
            w.writerow(["" if rec.get(h) is None else rec[h] for h in hdr])
        else:
            self._fh[rel].write(json.dumps(rec, ensure_ascii=False) + "\n")

    def defect(self, etype: str, system: str, sid: str, attr: str, kind: str, value: str) -> None:
        self.defects.writerow([etype, system, sid, attr, kind, value])

    def close(self) -> None:
        for rel, fh in self._fh.items():
            if rel in self._fhir_first:
                fh.write("\n]}\n")
            fh.close()
        for system, text in MAPPINGS.items():
            (self.out / f"{system.lower()}.toml").write_text(text, encoding="utf-8")
        for rel, hdr, rows in (
            (gm.CODE_SETS_FILE, ["code_set", "code", "display"], gm.code_set_rows),
            (
                gm.TRANSCODINGS_FILE,
                ["code_set", "system", "source_value", "code"],
                gm.transcoding_rows,
            ),
        ):
            with (self.out / rel).open("w", encoding="utf-8", newline="") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(hdr)
                w.writerows(rows(self.companies))
