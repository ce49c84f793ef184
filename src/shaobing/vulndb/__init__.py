"""Offline vulnerability database (B5): CVE records, CPE criteria, KEV/EPSS/CNVD enrichment."""
