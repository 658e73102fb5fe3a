"""结算引擎 The settlement engine: pure Python + numpy, no Django, no other jkfp module.

``settlement.md`` is its contract: stays (§2), outpatient special chronic disease claims (§6) and
stays already settled by the insurance platform (§7). Load a policy (``load_policy``/
``load_preset``), then settle claims one at a time with a trace (``settle_claim``/
``settle_claims``, Decimal) or in bulk (``settle_batch``, int64 fen). The two agree to the fen.
"""

from jkfp.engine.batch import OUTPUT_FIELDS, BatchResult, settle_batch
from jkfp.engine.claims import (
    ALL_CLAIM_COLUMNS,
    CLAIM_COLUMNS,
    INPATIENT,
    MAX_CLAIM_AMOUNT_FEN,
    NOT_PAID,
    OPTIONAL_CLAIM_COLUMNS,
    OUTPATIENT,
    Claim,
    ClaimKind,
    ClaimTable,
    ClaimValueError,
    RowError,
    ValidatedClaims,
    parse_amount_fen,
    validate_claim_columns,
)
from jkfp.engine.policy import (
    RATE_SCALE,
    AidRule,
    Amount,
    BasicRule,
    CategoryRule,
    CriticalRule,
    OutOfScopeRule,
    OutpatientDisease,
    OutpatientRule,
    Policy,
    PolicyError,
    PolicyProblem,
    Rate,
    SupplementaryRule,
    Tier,
    load_policy,
    loads_policy,
    parse_policy,
)
from jkfp.engine.presets import load_preset, preset_names
from jkfp.engine.reference import ClaimSettlement, YearToDate, settle_claim, settle_claims

__all__ = [
    "ALL_CLAIM_COLUMNS",
    "CLAIM_COLUMNS",
    "INPATIENT",
    "MAX_CLAIM_AMOUNT_FEN",
    "NOT_PAID",
    "OPTIONAL_CLAIM_COLUMNS",
    "OUTPATIENT",
    "OUTPUT_FIELDS",
    "RATE_SCALE",
    "AidRule",
    "Amount",
    "BasicRule",
    "BatchResult",
    "CategoryRule",
    "Claim",
    "ClaimKind",
    "ClaimSettlement",
    "ClaimTable",
    "ClaimValueError",
    "CriticalRule",
    "OutOfScopeRule",
    "OutpatientDisease",
    "OutpatientRule",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Rate",
    "RowError",
    "SupplementaryRule",
    "Tier",
    "ValidatedClaims",
    "YearToDate",
    "load_policy",
    "load_preset",
    "loads_policy",
    "parse_amount_fen",
    "parse_policy",
    "preset_names",
    "settle_batch",
    "settle_claim",
    "settle_claims",
    "validate_claim_columns",
]
