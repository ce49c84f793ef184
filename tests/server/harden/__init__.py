"""Tests of the console's hardening, SLA and re-deduplication routes."""
