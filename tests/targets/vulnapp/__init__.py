"""A deliberately vulnerable web application (a small 政务服务 site) for the web scanner's
tests and benchmarks: one page per vulnerability class and technique, each with a safe
look-alike twin under ``/v2``. See README.md and manifest.yaml beside this file."""
