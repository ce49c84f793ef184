"""Small feed files in the real schemas (written for these tests, not copied from the feeds)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any


def cpe_match(criteria: str, *, vulnerable: bool = True, **bounds: str) -> dict[str, Any]:
    """An NVD 2.0 cpeMatch entry."""
    return {"vulnerable": vulnerable, "criteria": criteria, "matchCriteriaId": "0000", **bounds}


def nvd_cve(
    cve_id: str,
    *,
    modified: str = "2024-02-01T10:00:00.000",
    status: str = "Analyzed",
    text: str = "A flaw in the example product.",
    configurations: list[dict[str, Any]] | None = None,
    score: float = 9.8,
    severity: str = "CRITICAL",
    extra_descriptions: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """One ``vulnerabilities[]`` item of the NVD CVE API 2.0."""
    return {
        "cve": {
            "id": cve_id,
            "sourceIdentifier": "cna@example.org",
            "published": "2024-01-15T08:30:00.000",
            "lastModified": modified,
            "vulnStatus": status,
            "descriptions": [
                {"lang": "en", "value": text},
                {"lang": "es", "value": "Un fallo."},
                *(extra_descriptions or []),
            ],
            "metrics": {
                "cvssMetricV31": [
                    {
                        "source": "cna@example.org",
                        "type": "Secondary",
                        "cvssData": {
                            "version": "3.1",
                            "vectorString": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N",
                            "baseScore": 4.3,
                            "baseSeverity": "MEDIUM",
                        },
                    },
                    {
                        "source": "nvd@nist.gov",
                        "type": "Primary",
                        "cvssData": {
                            "version": "3.1",
                            "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                            "baseScore": score,
                            "baseSeverity": severity,
                        },
                    },
                ]
            },
            "weaknesses": [
                {
                    "source": "nvd@nist.gov",
                    "type": "Primary",
                    "description": [{"lang": "en", "value": "CWE-787"}],
                },
                {
                    "source": "cna@example.org",
                    "type": "Secondary",
                    "description": [{"lang": "en", "value": "NVD-CWE-Other"}],
                },
            ],
            "configurations": configurations or [],
            "references": [
                {"url": f"https://example.org/advisory/{cve_id}", "source": "cna@example.org"}
            ],
        }
    }


def nvd_document(items: list[dict[str, Any]]) -> dict[str, Any]:
    """An NVD CVE API 2.0 response / yearly file."""
    return {
        "resultsPerPage": len(items),
        "startIndex": 0,
        "totalResults": len(items),
        "format": "NVD_CVE",
        "version": "2.0",
        "timestamp": "2024-03-01T00:00:00.000",
        "vulnerabilities": items,
    }


def openssh_config() -> list[dict[str, Any]]:
    """A single-node configuration: OpenSSH before 9.3p2."""
    return [
        {
            "nodes": [
                {
                    "operator": "OR",
                    "negate": False,
                    "cpeMatch": [
                        cpe_match(
                            "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*",
                            versionEndExcluding="9.3",
                        ),
                        cpe_match("cpe:2.3:a:openbsd:openssh:9.3:-:*:*:*:*:*:*"),
                        cpe_match("cpe:2.3:a:openbsd:openssh:9.3:p1:*:*:*:*:*:*"),
                    ],
                }
            ]
        }
    ]


def running_on_config() -> list[dict[str, Any]]:
    """An AND configuration: an application (vulnerable) running on an OS (not vulnerable)."""
    return [
        {
            "operator": "AND",
            "nodes": [
                {
                    "operator": "OR",
                    "negate": False,
                    "cpeMatch": [
                        cpe_match(
                            "cpe:2.3:a:node\\.js:node\\.js:*:*:*:*:*:*:*:*",
                            versionStartIncluding="18.0.0",
                            versionEndExcluding="18.19.1",
                        )
                    ],
                },
                {
                    "operator": "OR",
                    "negate": False,
                    "cpeMatch": [
                        cpe_match("cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*", vulnerable=False)
                    ],
                },
            ],
        }
    ]


def write_json(path: Path, data: Any, *, gz: bool = False, indent: int | None = 1) -> Path:
    """Write ``data`` as JSON (gzip-compressed when ``gz``)."""
    raw = json.dumps(data, indent=indent, ensure_ascii=False).encode("utf-8")
    if gz:
        path.write_bytes(gzip.compress(raw))
    else:
        path.write_bytes(raw)
    return path


def cve5_record(
    cve_id: str,
    *,
    updated: str = "2024-02-10T12:00:00.000Z",
    state: str = "PUBLISHED",
    affected: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A CVE JSON 5.1 record (as in the cvelistV5 repository)."""
    cna: dict[str, Any] = {
        "providerMetadata": {"orgId": "00000000-0000-0000-0000-000000000000"},
        "title": "Example flaw",
        "descriptions": [
            {"lang": "en", "value": "Out-of-bounds write in Example HTTPD."},
            {"lang": "zh-CN", "value": "Example HTTPD 存在越界写入漏洞。"},
        ],
        "affected": affected
        if affected is not None
        else [
            {
                "vendor": "Example Org",
                "product": "Example HTTPD",
                "defaultStatus": "unaffected",
                "versions": [
                    {
                        "version": "2.4.0",
                        "lessThan": "2.4.58",
                        "status": "affected",
                        "versionType": "semver",
                    },
                    {"version": "2.2.34", "status": "affected"},
                    {"version": "3.0", "status": "unaffected"},
                ],
            },
            {
                "vendor": "n/a",
                "product": "n/a",
                "versions": [{"version": "n/a", "status": "affected"}],
            },
        ],
        "problemTypes": [
            {
                "descriptions": [
                    {
                        "cweId": "CWE-787",
                        "description": "CWE-787 Out-of-bounds Write",
                        "lang": "en",
                        "type": "CWE",
                    }
                ]
            }
        ],
        "metrics": [
            {
                "format": "CVSS",
                "cvssV3_1": {
                    "version": "3.1",
                    "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
                    "baseScore": 9.1,
                    "baseSeverity": "CRITICAL",
                },
            }
        ],
        "references": [{"url": "https://example.org/httpd/security"}],
    }
    if state == "REJECTED":
        cna = {
            "providerMetadata": {"orgId": "00000000-0000-0000-0000-000000000000"},
            "rejectedReasons": [{"lang": "en", "value": "Duplicate of CVE-2024-0001."}],
        }
    return {
        "dataType": "CVE_RECORD",
        "dataVersion": "5.1",
        "cveMetadata": {
            "cveId": cve_id,
            "assignerOrgId": "00000000-0000-0000-0000-000000000000",
            "state": state,
            "datePublished": "2024-01-20T00:00:00.000Z",
            "dateUpdated": updated,
        },
        "containers": {"cna": cna},
    }


def cve5_tree(root: Path, records: list[dict[str, Any]]) -> Path:
    """Write records in the cvelistV5 layout ``cves/YYYY/NNxxx/CVE-YYYY-NNNN.json``."""
    for record in records:
        cve_id = record["cveMetadata"]["cveId"]
        _, year, number = cve_id.split("-")
        folder = root / "cves" / year / f"{number[:-3]}xxx"
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / f"{cve_id}.json", record, indent=2)
    (root / "cves" / "delta.json").write_text('{"fetchTime": "x", "numberOfChanges": 0}')
    (root / "README.md").write_text("# cvelistV5\n")
    return root


def kev_document(entries: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    """The CISA KEV catalogue: (cveID, dateAdded, dueDate, knownRansomwareCampaignUse)."""
    return {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2024.03.01",
        "dateReleased": "2024-03-01T15:00:00.000Z",
        "count": len(entries),
        "vulnerabilities": [
            {
                "cveID": cve,
                "vendorProject": "Example",
                "product": "Example",
                "vulnerabilityName": "Example Vulnerability",
                "dateAdded": added,
                "shortDescription": "…",
                "requiredAction": "Apply updates per vendor instructions.",
                "dueDate": due,
                "knownRansomwareCampaignUse": ransomware,
                "notes": "",
                "cwes": ["CWE-787"],
            }
            for cve, added, due, ransomware in entries
        ],
    }


KEV_CSV = (
    "cveID,vendorProject,product,vulnerabilityName,dateAdded,shortDescription,"
    "requiredAction,dueDate,knownRansomwareCampaignUse,notes,cwes\n"
    'CVE-2024-0001,OpenBSD,OpenSSH,"OpenSSH, a flaw",2024-02-01,"Multi\nline",'
    "Apply updates.,2024-02-22,Known,,CWE-787\n"
)

EPSS_CSV = (
    "#model_version:v2023.03.01,score_date:2024-03-01T00:00:00+0000\n"
    "cve,epss,percentile\n"
    "CVE-2024-0001,0.97000,0.99900\n"
    "CVE-2024-0002,0.00043,0.05000\n"
    "CVE-1999-0001,0.01000,0.50000\n"
)

MAPPING_CSV = (
    "cve,cnvd,cnnvd\n"
    "CVE-2024-0001,CNVD-2024-01234,CNNVD-202401-1234\n"
    "CVE-2024-0002,CNVD-2024-05678;CNVD-2024-05679,\n"
)
