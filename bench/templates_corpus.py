"""Load and validate every template of the community corpus sample; print one JSON line.

    .venv/bin/python bench/templates_corpus.py [CORPUS]

The corpus is read in place (default /work/shared/corpora/nuclei-templates), never
copied. Figures: total, loads, refused (load errors), runnable (no unsupported feature),
the share of http and network (tcp) templates that run with no unsupported feature, the
same share leaving out templates refused only because a payload file of the collection's
helpers/ folder is missing from the sample, and unsupported features by template count.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from shaobing.templates.validate import template_files, validate_file

DEFAULT = Path("/work/shared/corpora/nuclei-templates")


def main() -> int:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not corpus.is_dir():
        print(json.dumps({"error": f"corpus not found: {corpus}"}))
        return 1
    started = time.perf_counter()
    total = loads = runnable = 0
    web_total = web_runnable = web_missing_only = 0
    features: Counter[str] = Counter()
    errors: list[str] = []
    for file, root in template_files([corpus]):
        result = validate_file(file, root)
        total += 1
        if result.template is None:
            errors.append(result.error or "")
            continue
        loads += 1
        unsupported = result.unsupported
        features.update(unsupported)
        runnable += not unsupported
        if set(result.template.protocols) & {"http", "tcp"}:
            web_total += 1
            web_runnable += not unsupported
            web_missing_only += set(unsupported) == {"payload-file-missing"}
    elapsed = time.perf_counter() - started
    share = 100.0 * web_runnable / web_total if web_total else 0.0
    without_missing = (
        100.0 * web_runnable / (web_total - web_missing_only)
        if web_total > web_missing_only
        else 0.0
    )
    print(
        json.dumps(
            {
                "corpus": str(corpus),
                "total": total,
                "loads": loads,
                "refused": total - loads,
                "runnable": runnable,
                "http_network": web_total,
                "http_network_runnable": web_runnable,
                "http_network_runnable_pct": round(share, 1),
                "http_network_runnable_pct_excluding_missing_helper_files": round(
                    without_missing, 1
                ),
                "unsupported_features": dict(features.most_common()),
                "load_errors": errors[:20],
                "seconds": round(elapsed, 2),
            },
            ensure_ascii=False,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
