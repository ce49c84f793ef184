"""Hostile and sample files for the console's configuration uploads (written for these tests)."""

from __future__ import annotations

import gzip
import json

from tests.vulndb.feeds import nvd_cve, nvd_document

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<r>&x;</r>
"""
XML_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<l>&d;</l>
"""
YAML_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
).encode()
YAML_OBJECT_TAG = b"id: x\nrun: !!python/object/apply:os.system ['echo pwned']\n"
# A gzip "bomb" in miniature: 4 MiB of zeros in a few KiB; not a feed once opened.
GZIP_ZEROS = gzip.compress(b"\0" * (4 << 20))

GOOD_TEMPLATE = b"""\
id: good-one
info:
  name: good template
  severity: high
http:
  - path: ["{{BaseURL}}/"]
    matchers:
      - type: word
        words: [hello]
"""
UNSAFE_TEMPLATE = GOOD_TEMPLATE.replace(b"id: good-one", b"id: unsafe-one").replace(
    b'path: ["{{BaseURL}}/"]', b'path: ["{{BaseURL}}/"]\n    unsafe: true'
)
BROKEN_TEMPLATE = b"id: bad one!\ninfo: {}\n"


def nvd_feed(*cve_ids: str) -> bytes:
    """A small NVD 2.0 feed naming ``cve_ids``."""
    items = [nvd_cve(c, text=f"Heap overflow in examplehttpd ({c}).") for c in cve_ids]
    return json.dumps(nvd_document(items)).encode()
