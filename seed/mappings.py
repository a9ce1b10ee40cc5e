# ruff: noqa: E501
"""Mapping files (TOML) written next to the generated data, one per source system."""

from __future__ import annotations

import re

# main file -> its "changes" file: later versions of some of its records (same source ids,
# same layout); mapped by a copy of the main file's [[entity]] table right after it, so
# the hub loads the changes after the main file
CHANGE_FILES = {
    "erp/vendors.csv": "erp/vendors_changes.csv",
    "erp/items.csv": "erp/items_changes.csv",
    "ehr/supply_items.jsonl": "ehr/supply_items_changes.jsonl",
    "procurement/suppliers.jsonl": "procurement/suppliers_changes.jsonl",
    "procurement/catalog.jsonl": "procurement/catalog_changes.jsonl",
}

_STATUS_ERP = (
    '{ field = "%s", values = { A = "active", I = "inactive", H = "hold", D = "deleted" } }'
)
_UOM = (
    '{ field = "%s", transform = ["strip", "upper"], values = { EA = "each", EACH = "each", '
    'BX = "box", BOX = "box", CS = "case", CASE = "case", CA = "case", BG = "bag", '
    'BAG = "bag", PK = "pack", PKG = "pack", PAK = "pack", PACK = "pack" } }'
)

ERP = f"""# Lawson-like ERP extract (CSV, upper-case columns, dates MM/DD/YYYY)
[system]
code = "ERP"
name = "Lawson ERP"

[[entity]]
type = "vendor"
file = "erp/vendors.csv"
format = "csv"
source_id = "VENDOR"
deleted = {{ field = "VEN_STATUS", equals = ["D"] }}

[entity.attributes]
name = "VENDOR_VNAME"
dba_name = "DBA_NAME"
tax_id = {{ field = "TAX_ID", transform = ["strip"] }}
duns = {{ field = "DUNS_NBR", transform = ["strip"] }}
gln = "GLN"
vendor_type = {{ field = "VENDOR_CLASS", values = {{ MFR = "manufacturer", DIST = "distributor", SVC = "service" }} }}
address_line1 = "ADDR1"
address_line2 = "ADDR2"
city = "CITY_ADDR5"
state = {{ field = "STATE_PROV", transform = ["strip", "upper"] }}
postal_code = "POSTAL_CODE"
phone = "PHONE_NBR"
parent = "PARENT_VENDOR"
status = {_STATUS_ERP % "VEN_STATUS"}

[[entity]]
type = "item"
file = "erp/items.csv"
format = "csv"
source_id = "ITEM"
deleted = {{ field = "ACTIVE_STATUS", equals = ["D"] }}

[entity.attributes]
description = "DESCRIPTION"
manufacturer = "MFR_VENDOR"
manufacturer_name = "MFR_NAME"
manufacturer_part_number = "MANUF_NBR"
vendor = "VENDOR"
vendor_catalog_number = "VEN_ITEM"
gtin = "GTIN"
hibc = "HIBC_UPN"
unspsc = "UNSPSC_CODE"
hcpcs = "HCPCS"
uom = {_UOM % "PURCH_UOM"}
pack_quantity = "UOM_MULT"
brand = "BRAND"
size = "ITEM_SIZE"
sterile = "STERILE_FLAG"
latex_free = "LATEX_FREE"
price = "UNIT_COST"
status = {_STATUS_ERP % "ACTIVE_STATUS"}

[[entity]]
type = "location"
file = "erp/locations.csv"
format = "csv"
source_id = "LOCATION"
deleted = {{ field = "ACTIVE_STATUS", equals = ["D"] }}

[entity.attributes]
code = "LOCATION"
name = "NAME"
location_type = {{ field = "LOC_TYPE", transform = ["strip", "upper"] }}
parent = "PARENT_LOC"
address_line1 = "ADDR1"
address_line2 = "ADDR2"
city = "CITY"
state = "STATE"
postal_code = "ZIP"
gln = "GLN"
npi = "NPI"
hin = "HIN"
cost_center = "ACCT_UNIT_ID"
status = {_STATUS_ERP % "ACTIVE_STATUS"}

[[entity]]
type = "cost_center"
file = "erp/cost_centers.csv"
format = "csv"
source_id = "AU_ID"
deleted = {{ field = "ACTIVE_STATUS", equals = ["D"] }}

[entity.attributes]
code = "ACCT_UNIT"
name = "DESCRIPTION"
company = {{ field = "COMPANY", transform = ["strip"] }}
location = "LOCATION"
status = {_STATUS_ERP % "ACTIVE_STATUS"}

[[entity]]
type = "contract"
file = "erp/contracts.csv"
format = "csv"
source_id = "CONTRACT_ID"
deleted = {{ field = "STATUS", equals = ["D"] }}
date_format = "%m/%d/%Y"

[entity.attributes]
contract_number = "AGREEMENT_REF"
name = "DESCRIPTION"
vendor = "VENDOR"
gpo = {{ field = "GPO_CODE", transform = ["strip", "upper"] }}
tier = {{ field = "TIER", transform = ["strip"] }}
effective_date = "EFFECTIVE_DATE"
expiration_date = "EXPIRE_DATE"
status = {{ field = "STATUS", values = {{ A = "active", E = "expired", P = "pending", D = "deleted" }} }}
"""

EHR = f"""# Epic/Cerner-like EHR: FHIR R4 Location bundle and a JSON Lines supply master
[system]
code = "EHR"
name = "Epic EHR"

[[entity]]
type = "location"
file = "ehr/locations.json"
format = "fhir"
source_id = "id"

[entity.attributes]
code = "identifier|urn:mdm:ehr:location-code"
name = "name"
location_type = {{ field = "physicalType", transform = ["strip", "upper"] }}
parent = "partOf"
address_line1 = "address.line1"
address_line2 = "address.line2"
city = "address.city"
state = "address.state"
postal_code = "address.postalCode"
gln = "identifier|urn:oid:1.3.88"
npi = "identifier|http://hl7.org/fhir/sid/us-npi"
hin = "identifier|urn:oid:2.16.840.1.113883.6.40"
cost_center = {{ field = "identifier|urn:mdm:ehr:cost-center", system = "ERP" }}
status = "status"

[[entity]]
type = "item"
file = "ehr/supply_items.jsonl"
format = "jsonl"
source_id = "supply_id"
deleted = {{ field = "record_status", equals = ["DELETED"] }}

[entity.attributes]
description = "name"
manufacturer_name = "mfr.name"
manufacturer_part_number = "mfr.catalog_no"
gtin = "gtin"
hibc = "hibc"
hcpcs = "charge.hcpcs"
uom = {_UOM % "uom"}
pack_quantity = "pack_qty"
brand = "brand"
size = "size"
sterile = "sterile"
latex_free = "latex_free"
price = "charge.cost"
status = {{ field = "record_status", transform = ["lower"] }}
"""

PROCUREMENT = f"""# GHX/Coupa-like procurement platform (JSON Lines, camelCase, ISO dates)
[system]
code = "PROCUREMENT"
name = "Procurement Platform"

[[entity]]
type = "vendor"
file = "procurement/suppliers.jsonl"
format = "jsonl"
source_id = "supplierId"
deleted = {{ field = "status", equals = ["deleted"] }}

[entity.attributes]
name = "supplierName"
dba_name = "dbaName"
tax_id = {{ field = "taxId", transform = ["strip"] }}
duns = {{ field = "dunsNumber", transform = ["strip"] }}
gln = "gln"
vendor_type = {{ field = "supplierType", values = {{ Manufacturer = "manufacturer", Distributor = "distributor", Services = "service" }} }}
address_line1 = "remitTo.street"
address_line2 = "remitTo.street2"
city = "remitTo.city"
state = "remitTo.state"
postal_code = "remitTo.postalCode"
phone = "phone"
parent = "parentSupplierId"
status = "status"

[[entity]]
type = "item"
file = "procurement/catalog.jsonl"
format = "jsonl"
source_id = "catalogItemId"
deleted = {{ field = "status", equals = ["deleted"] }}

[entity.attributes]
description = "description"
manufacturer = "manufacturer.supplierId"
manufacturer_name = "manufacturer.name"
manufacturer_part_number = "manufacturer.partNumber"
vendor = "supplierId"
vendor_catalog_number = "supplierPartNumber"
gtin = "gtin"
unspsc = "unspsc"
uom = {_UOM % "uom"}
pack_quantity = "packQuantity"
brand = "brand"
size = "size"
sterile = "sterile"
latex_free = "latexFree"
price = "unitPrice"
status = "status"

[[entity]]
type = "contract"
file = "procurement/contracts.jsonl"
format = "jsonl"
source_id = "contractId"
deleted = {{ field = "status", equals = ["deleted"] }}

[entity.attributes]
contract_number = "contractNumber"
name = "title"
vendor = "supplierId"
gpo = {{ field = "gpo", transform = ["strip", "upper"] }}
tier = {{ field = "tier", transform = ["strip", "upper"] }}
effective_date = "startDate"
expiration_date = "endDate"
status = "status"

[[entity]]
type = "cost_center"
file = "procurement/cost_centers.jsonl"
format = "jsonl"
source_id = "costCenterId"
deleted = {{ field = "status", equals = ["deleted"] }}

[entity.attributes]
code = "code"
name = "name"
company = {{ field = "company", transform = ["strip", "upper"] }}
location = {{ field = "shipToLocation", system = "ERP" }}
status = "status"
"""


def with_changes(text: str) -> str:
    """Insert, after each [[entity]] table of a file with changes, the same table for them."""
    head, *tables = text.split("\n[[entity]]\n")
    out = [head]
    for table in tables:
        out.append(table)
        m = re.search(r'^file = "([^"]+)"$', table, re.MULTILINE)
        if m and m.group(1) in CHANGE_FILES:
            main = m.group(1)
            line = f'file = "{CHANGE_FILES[main]}"  # later versions of records of {main}'
            out.append(table.replace(m.group(0), line, 1).rstrip("\n") + "\n")
    return "\n[[entity]]\n".join(out)


MAPPINGS = {
    "ERP": with_changes(ERP),
    "EHR": with_changes(EHR),
    "PROCUREMENT": with_changes(PROCUREMENT),
}


# --------------------------------------------------------------------------- reference data
# code_sets.csv (code_set,code,display): the canonical codes; transcodings.csv
# (code_set,system,source_value,code): a system's value -> its canonical code. Source
# values are written as the system writes them; the hub compares them upper-cased with
# runs of spaces collapsed. A canonical code written as such (ERP company numbers, ERP GPO
# codes and tiers, ERP "PAR") needs no transcoding.

CODE_SETS_FILE = "code_sets.csv"
TRANSCODINGS_FILE = "transcodings.csv"

# internal location type -> (canonical code, display, ERP LOC_TYPE, FHIR physicalType, display)
LOCATION_TYPES = {
    "system": ("SYSTEM", "Health system", "SYS", "jdn", "Jurisdiction"),
    "facility": ("FACILITY", "Facility (hospital, clinic)", "FAC", "si", "Site"),
    "department": ("DEPARTMENT", "Department, nursing unit", "DEPT", "wa", "Ward"),
    "storeroom": ("STOREROOM", "Storeroom", "STOR", "ro", "Room"),
    "par": ("PAR", "Par location", "PAR", "ca", "Cabinet"),
}
# GPO code (ERP GPO_CODE, canonical) -> name (what procurement writes)
GPOS = [
    ("KPA", "Keystone Purchasing Alliance"),
    ("CHS", "Crossroads Healthcare Sourcing"),
    ("LOCAL", "Local Agreement"),
]
TIERS = ["1", "2", "3", "4"]  # ERP TIER (canonical); procurement writes "Tier 2"


def code_set_rows(companies: list[tuple[str, str, str]]) -> list[list[str]]:
    """Rows of code_sets.csv; companies are (ERP number, mnemonic, name)."""
    rows = [["company", num, name] for num, _mn, name in companies]
    rows += [["location_type", v[0], v[1]] for v in LOCATION_TYPES.values()]
    rows += [["gpo", code, name] for code, name in GPOS]
    rows += [["contract_tier", t, f"Tier {t}"] for t in TIERS]
    return rows


def transcoding_rows(companies: list[tuple[str, str, str]]) -> list[list[str]]:
    """Rows of transcodings.csv. PROCUREMENT company *names* are deliberately absent: they
    are the unmapped values the hub reports and learns correspondences for."""
    rows = [["company", "PROCUREMENT", mn, num] for num, mn, _name in companies]
    for code, _d, erp, _phys, _pd in LOCATION_TYPES.values():
        if erp != code:
            rows.append(["location_type", "ERP", erp, code])
    rows += [["location_type", "EHR", v[3], v[0]] for v in LOCATION_TYPES.values()]
    rows += [["gpo", "PROCUREMENT", name, code] for code, name in GPOS]
    rows += [["contract_tier", "PROCUREMENT", f"Tier {t}", t] for t in TIERS]
    return rows
