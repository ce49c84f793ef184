"""Network check plugins, imported by shaobing.scan.checks.load_checks()."""
