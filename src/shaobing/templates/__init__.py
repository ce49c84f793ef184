"""Nuclei-format template engine (B6): load, validate and run declarative checks.

``loader`` turns a YAML file into a :class:`~shaobing.templates.model.Template` and lists
the features it uses that the engine cannot run (never skipped silently); ``runner``
executes a template against one target through a scan context, so every connection passes
the scope guard. The expression language lives in :mod:`shaobing.templates.dsl`.
"""
