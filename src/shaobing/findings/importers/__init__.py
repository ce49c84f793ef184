"""Importers of scanner and analyser output files, discovered by module scan."""
