"""Real services (PostgreSQL, later MariaDB, Redis, ...) started on loopback for the tests."""
