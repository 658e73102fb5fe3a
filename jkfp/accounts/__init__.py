"""用户与审计 Users, roles, region scoping and the audit log."""
