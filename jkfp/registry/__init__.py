"""人员花名册 Households, persons, tags, conditions, imports and reconciliation."""
