"""一站式结算 One-stop settlement: policies, admissions, claims, settlements, year-to-date ledger, clearing (settlement.md)."""
