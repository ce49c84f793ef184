"""Read-only queries behind the web console's dashboards and findings list.

Every figure is aggregated in SQL over composite indexes (never by loading findings into
Python), so a page stays fast with a million findings on SQLite and on PostgreSQL. The
caller applies the tenant rule first and passes the engagement ids the user may see.
"""
