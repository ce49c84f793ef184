"""Clients (甲方, the tenants), engagements, scope, service items, SLA terms, deliverables."""
