"""REST API under ``/api/v1``: thin routes over the same service layer as the CLI."""
