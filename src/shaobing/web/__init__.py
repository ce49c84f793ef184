"""Web application testing (B7): crawler, passive and active checks, evidence."""
