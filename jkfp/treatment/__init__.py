"""大病专项救治与转诊备案 Major-disease treatment cases and referrals (domain.md §5, §7; issue 6)."""
