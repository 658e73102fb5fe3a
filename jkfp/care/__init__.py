"""家庭医生签约、随访、体检、送药与慢病卡 Care: family-doctor teams, contracts, follow-ups, checks, deliveries, cards (domain.md §6)."""
