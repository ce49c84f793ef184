"""Built-in scan policies (data)."""
