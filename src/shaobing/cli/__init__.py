"""The ``shaobing`` command line (Typer): one module per command group."""
