"""Server-rendered Chinese pages of the console (Jinja2 templates, no front-end build)."""
