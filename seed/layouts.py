"""The source systems' record layouts: the files each system delivers, the ERP's CSV
columns and the EHR's FHIR identifier systems."""

from __future__ import annotations

from . import mappings as gm

ERP_HDR = {
    "vendor": [
        "VENDOR",
        "VENDOR_VNAME",
        "DBA_NAME",
        "TAX_ID",
        "DUNS_NBR",
        "GLN",
        "VENDOR_CLASS",
        "ADDR1",
        "ADDR2",
        "CITY_ADDR5",
        "STATE_PROV",
        "POSTAL_CODE",
        "PHONE_NBR",
        "PARENT_VENDOR",
        "VEN_STATUS",
    ],
    "item": [
        "ITEM",
        "DESCRIPTION",
        "MFR_VENDOR",
        "MFR_NAME",
        "MANUF_NBR",
        "VENDOR",
        "VEN_ITEM",
        "GTIN",
        "HIBC_UPN",
        "UNSPSC_CODE",
        "HCPCS",
        "PURCH_UOM",
        "UOM_MULT",
        "BRAND",
        "ITEM_SIZE",
        "STERILE_FLAG",
        "LATEX_FREE",
        "UNIT_COST",
        "ACTIVE_STATUS",
    ],
    "location": [
        "LOCATION",
        "NAME",
        "LOC_TYPE",
        "PARENT_LOC",
        "ADDR1",
        "ADDR2",
        "CITY",
        "STATE",
        "ZIP",
        "GLN",
        "NPI",
        "HIN",
        "ACCT_UNIT_ID",
        "COMPANY",
        "ACTIVE_STATUS",
    ],
    "cost_center": ["AU_ID", "COMPANY", "ACCT_UNIT", "DESCRIPTION", "LOCATION", "ACTIVE_STATUS"],
    "contract": [
        "CONTRACT_ID",
        "AGREEMENT_REF",
        "DESCRIPTION",
        "VENDOR",
        "GPO_CODE",
        "TIER",
        "EFFECTIVE_DATE",
        "EXPIRE_DATE",
        "STATUS",
    ],
}
FILES = {
    ("ERP", "vendor"): "erp/vendors.csv",
    ("ERP", "item"): "erp/items.csv",
    ("ERP", "location"): "erp/locations.csv",
    ("ERP", "cost_center"): "erp/cost_centers.csv",
    ("ERP", "contract"): "erp/contracts.csv",
    ("EHR", "location"): "ehr/locations.json",
    ("EHR", "item"): "ehr/supply_items.jsonl",
    ("PROCUREMENT", "vendor"): "procurement/suppliers.jsonl",
    ("PROCUREMENT", "item"): "procurement/catalog.jsonl",
    ("PROCUREMENT", "contract"): "procurement/contracts.jsonl",
    ("PROCUREMENT", "cost_center"): "procurement/cost_centers.jsonl",
}
# later versions of records (same source id, same layout), loaded after the main file
CHANGE_FILES = {k: gm.CHANGE_FILES[f] for k, f in FILES.items() if f in gm.CHANGE_FILES}
EHR_BASE_URL = "https://ehr.hopehealth.example/fhir/"
OID_GLN = "urn:oid:1.3.88"
SID_NPI = "http://hl7.org/fhir/sid/us-npi"
OID_HIN = "urn:oid:2.16.840.1.113883.6.40"
SID_CC = "urn:mdm:ehr:cost-center"
SID_LOC_CODE = "urn:mdm:ehr:location-code"
