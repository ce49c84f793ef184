"""The platform's own accounts and access control (J2): users, roles and permissions,
password policy, lockout and server-side sessions. No web code: the console and the API
call these services."""
