"""Reference data: code sets, per-system transcodings, unmapped values, learned
correspondences and their stewardship.

``CodeBook`` (in ``mdm.codes``) is what standardization and matching read; this package
fills it from files and the store, and keeps it current (``CodeBookCache``).
"""

from __future__ import annotations

from mdm.codes import (
    MAX_CONFLICT_SHARE,
    MIN_SUPPORT,
    CodeBookCache,
    conflict_share,
    is_evidence,
    load_codebook,
    reference_data_version,
)
from mdm.reference.files import (
    CODE_SETS_FILE,
    TRANSCODINGS_FILE,
    find_reference_files,
    read_reference_files,
)
from mdm.reference.learning import (
    CORRESPONDENCE_STATUSES,
    LearnSummary,
    learn_correspondences,
    list_correspondences,
)
from mdm.reference.stewardship import (
    CorrespondenceDecision,
    TranscodingChange,
    accept_correspondence,
    delete_transcoding,
    reject_correspondence,
    restandardize,
    set_transcoding,
)
from mdm.reference.store import (
    CodeEntry,
    CodeSetView,
    ReferenceLoadSummary,
    TranscodingEntry,
    list_code_sets,
    load_reference_files,
)
from mdm.reference.unmapped import UnmappedValue, unmapped_values

__all__ = [
    "CODE_SETS_FILE",
    "CORRESPONDENCE_STATUSES",
    "MAX_CONFLICT_SHARE",
    "MIN_SUPPORT",
    "TRANSCODINGS_FILE",
    "CodeBookCache",
    "CodeEntry",
    "CodeSetView",
    "CorrespondenceDecision",
    "LearnSummary",
    "ReferenceLoadSummary",
    "TranscodingChange",
    "TranscodingEntry",
    "UnmappedValue",
    "accept_correspondence",
    "conflict_share",
    "delete_transcoding",
    "find_reference_files",
    "is_evidence",
    "learn_correspondences",
    "list_code_sets",
    "list_correspondences",
    "load_codebook",
    "load_reference_files",
    "read_reference_files",
    "reference_data_version",
    "reject_correspondence",
    "restandardize",
    "set_transcoding",
    "unmapped_values",
]
