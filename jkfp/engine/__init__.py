"""结算引擎 The settlement engine: pure Python + numpy, no Django, no other jkfp module.

``settlement.md`` is its contract. Load a policy (``load_policy``/``load_preset``), then settle
claims one at a time with a trace (``settle_claim``/``settle_claims``, Decimal) or in bulk
(``settle_batch``, int64 fen). The two agree to the fen.
"""

from jkfp.engine.batch import OUTPUT_FIELDS, BatchResult, settle_batch
from jkfp.engine.claims import (
    CLAIM_COLUMNS,
    MAX_CLAIM_AMOUNT_FEN,
    OUT_OF_SCOPE_ABOVE_TOTAL,
    Claim,
    ClaimTable,
    ClaimValueError,
    RowError,
    ValidatedClaims,
    decimal_to_fen,
    fen_to_decimal,
    out_of_scope_above_total,
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
    "CLAIM_COLUMNS",
    "MAX_CLAIM_AMOUNT_FEN",
    "OUTPUT_FIELDS",
    "OUT_OF_SCOPE_ABOVE_TOTAL",
    "RATE_SCALE",
    "AidRule",
    "Amount",
    "BasicRule",
    "BatchResult",
    "CategoryRule",
    "Claim",
    "ClaimSettlement",
    "ClaimTable",
    "ClaimValueError",
    "CriticalRule",
    "OutOfScopeRule",
    "Policy",
    "PolicyError",
    "PolicyProblem",
    "Rate",
    "RowError",
    "SupplementaryRule",
    "Tier",
    "ValidatedClaims",
    "YearToDate",
    "decimal_to_fen",
    "fen_to_decimal",
    "load_policy",
    "load_preset",
    "loads_policy",
    "out_of_scope_above_total",
    "parse_amount_fen",
    "parse_policy",
    "preset_names",
    "settle_batch",
    "settle_claim",
    "settle_claims",
    "validate_claim_columns",
]
