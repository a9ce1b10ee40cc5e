"""How often each deliberate defect and each context pattern occurs (documented in
seed/README.md)."""

from __future__ import annotations

P_DUP = 0.04  # within-system duplicate of a record
P_DELETED = 0.01  # record deleted at source
P_TYPO = 0.05  # typo in a name/description
P_DROP = 0.04  # dropped or reordered word
P_BAD_CHECK = 0.02  # transposed digits in GTIN/GLN/NPI (check digit fails)
P_JUNK = 0.02  # junk placeholder in an identifier field
P_DANGLING = 0.01  # reference to a record not delivered
P_CHANGE = 0.03  # record with a later version in the system's changes file
P_CHANGE_DELETED = 0.005  # of those: the later version is a source deletion
# context patterns (locations, cost centers)
P_COMPANY_NAME = 0.25  # procurement cost center writes the company name (not transcoded)
P_COMPANY_NAME_VARIANT = 0.2  # of those: upper/lower case or doubled space
P_COMPANY_MNEMONIC_LOWER = 0.1  # of the mnemonics: lower case ("hhn")
P_FAC_PREFIX = 0.3  # department name prefixed with the facility code ("HHN ED")
P_HOUSE_SPELLING = 0.7  # a system's usual spelling of a department (else another one)
P_UNKNOWN_ABBR = 0.1  # department name written with an abbreviation the hub may not know
P_EHR_DEPT_BARE = 0.6  # EHR department with no address nor identifiers (only partOf)
P_PROC_CC_LOCATION = 0.8  # procurement cost center names its ERP location (when in the ERP)
