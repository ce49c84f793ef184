"""Web checks: passive (responses), site (once per site) and parameter (payloads) checks."""
