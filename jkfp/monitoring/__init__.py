"""防止因病返贫致贫监测 Monitoring of illness-caused poverty risk: rules, alerts, cases (domain.md §8)."""
