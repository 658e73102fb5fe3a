"""指标目录 Every indicator of domain.md §9 (and §12), in the order of its table (dashboard, CLI and report use it)."""

from __future__ import annotations

from jkfp.indicators.definitions import REGISTRY_INDICATORS, Indicator
from jkfp.indicators.definitions_capacity import CAPACITY_INDICATORS
from jkfp.indicators.definitions_care import CARE_INDICATORS
from jkfp.indicators.definitions_monitoring import MONITORING_INDICATORS
from jkfp.indicators.definitions_settlement import SETTLEMENT_INDICATORS

ORDER = (
    "verification_rate",
    "enrolment_rate",
    "contract_rate",
    "fulfilment_rate",
    "record_rate",
    "checkup_rate",
    "htn_standard_rate",
    "htn_control_rate",
    "dm_standard_rate",
    "dm_control_rate",
    "major_treatment_rate",
    "actual_reimbursement_ratio",
    "personal_share",
    "in_county_rate",
    "deferred_payment_count",
    "one_stop_count",
    "one_stop_outpatient_count",
    "outpatient_personal_share",
    "chronic_card_count",
    "alert_handling_rate",
    "clinic_coverage_rate",
    "qualified_doctor_rate",
    "township_centre_rate",
    "blank_point_count",
    "telemedicine_rate",
    "training_count",
)
_ALL = {
    i.code: i
    for i in (
        *REGISTRY_INDICATORS,
        *CARE_INDICATORS,
        *SETTLEMENT_INDICATORS,
        *MONITORING_INDICATORS,
        *CAPACITY_INDICATORS,
    )
}
INDICATORS: tuple[Indicator, ...] = tuple(_ALL[code] for code in ORDER if code in _ALL)
BY_CODE: dict[str, Indicator] = {i.code: i for i in INDICATORS}
