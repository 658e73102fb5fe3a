"""指标 · 台账 · 自评报告 Indicators, ledgers and the self-assessment report (domain.md §9–§10)."""
