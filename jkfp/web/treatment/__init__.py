"""大病专项救治与转诊备案页面 Web pages of major-disease treatment and referrals (issue 6)."""
