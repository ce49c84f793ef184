"""NVD applicability: criteria, configurations (AND/OR/negate/platform) and verdicts."""

from __future__ import annotations

import pytest

from shaobing.core.i18n import t
from shaobing.vulndb.cpe import parse_cpe
from shaobing.vulndb.match import (
    ALIAS_ONLY_PENALTY,
    ALL_VERSIONS_POINTS,
    BACKPORT_PENALTY,
    EXACT_POINTS,
    PLATFORM_PENALTY,
    RANGE_POINTS,
    Applicability,
    ConfigNode,
    Configuration,
    CpeCriterion,
    MatchVerdict,
    ServiceFacts,
    assess,
    configuration_applies,
    configurations_from_nvd,
    criterion_matches,
)

OPENSSH = "cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*"
NGINX = "cpe:2.3:a:f5:nginx:*:*:*:*:*:*:*:*"
HTTPD = "cpe:2.3:a:apache:http_server:*:*:*:*:*:*:*:*"
MYSQL = "cpe:2.3:a:oracle:mysql:*:*:*:*:*:*:*:*"
MARIADB = "cpe:2.3:a:mariadb:mariadb:*:*:*:*:*:*:*:*"
OPENSSL = "cpe:2.3:a:openssl:openssl:*:*:*:*:*:*:*:*"
LINUX = "cpe:2.3:o:linux:linux_kernel:-:*:*:*:*:*:*:*"
WINDOWS = "cpe:2.3:o:microsoft:windows:-:*:*:*:*:*:*:*"


def simple(*criteria: CpeCriterion) -> list[Configuration]:
    """One configuration with one OR node."""
    return [Configuration(nodes=(ConfigNode(criteria=criteria),))]


def running_on(app: CpeCriterion, platform: str, *, negate: bool = False) -> Configuration:
    """NVD's "app running on platform" shape: AND of a vulnerable node and a platform node."""
    return Configuration(
        operator="AND",
        nodes=(
            ConfigNode(criteria=(app,)),
            ConfigNode(criteria=(CpeCriterion(platform, vulnerable=False),), negate=negate),
        ),
    )


def service(product: str, version: str, cpe: str | None = None, **hints: str) -> ServiceFacts:
    """A service as identification reports it (the CPE version filled in from ``version``)."""
    cpes = (parse_cpe(cpe).with_version(version).to23(),) if cpe else ()
    return ServiceFacts(product=product, version=version, cpes=cpes, **hints)


def potential(verdict: MatchVerdict | None) -> MatchVerdict:
    assert verdict is not None
    assert verdict.status == "potential"
    assert verdict.reasons[0] == t("vulndb_match.version_only")
    return verdict


# --- OpenSSH, CVE-2023-38408 shape: versionEndExcluding 9.3p2 ---------------------------

CVE_2023_38408 = simple(CpeCriterion(OPENSSH, version_end_excluding="9.3p2"))


@pytest.mark.parametrize("version", ["9.2p1", "9.3", "9.3p1", "8.9p1", "5.3"])
def test_openssh_below_bound_matches(version: str) -> None:
    verdict = potential(assess(service("OpenSSH", version, OPENSSH), CVE_2023_38408))
    assert verdict.confidence == RANGE_POINTS
    assert t("vulndb_match.version_range", version=version, range="(-∞, 9.3p2)") in verdict.reasons
    assert verdict.matched_criteria == (OPENSSH,)


@pytest.mark.parametrize("version", ["9.3p2", "9.4p1", "9.10p1"])
def test_openssh_at_or_above_bound_does_not_match(version: str) -> None:
    assert assess(service("OpenSSH", version, OPENSSH), CVE_2023_38408) is None


def test_debian_build_matches_with_backport_reason_and_lower_confidence() -> None:
    plain = potential(assess(service("OpenSSH", "9.2p1", OPENSSH), CVE_2023_38408))
    debian = potential(assess(service("OpenSSH", "9.2p1-2+deb12u3", OPENSSH), CVE_2023_38408))
    assert debian.confidence == plain.confidence - BACKPORT_PENALTY
    assert t("vulndb_match.backport", tag="deb12u3", distro="Debian") in debian.reasons
    assert "发行版版本（deb12u3，Debian）可能已向后移植修复，需人工确认" in debian.reasons
    # The revision does not push the version past the bound (9.2p1-2+... is still 9.2p1).
    assert assess(service("OpenSSH", "1:9.3p2-1+deb12u1", OPENSSH), CVE_2023_38408) is None


def test_backport_marker_from_banner_hint() -> None:
    facts = service("OpenSSH", "8.9p1", OPENSSH, distro="Ubuntu 3ubuntu0.10")
    verdict = potential(assess(facts, CVE_2023_38408))
    assert verdict.confidence == RANGE_POINTS - BACKPORT_PENALTY
    assert any("3ubuntu0.10" in reason for reason in verdict.reasons)


def test_old_style_update_attribute() -> None:
    p2 = CpeCriterion("cpe:2.3:a:openbsd:openssh:7.2:p2:*:*:*:*:*:*")
    release = CpeCriterion("cpe:2.3:a:openbsd:openssh:9.3:-:*:*:*:*:*:*")
    host = parse_cpe
    assert criterion_matches(p2, host("cpe:2.3:a:openbsd:openssh:7.2p2:*:*:*:*:*:*:*"))
    assert criterion_matches(p2, host("cpe:2.3:a:openbsd:openssh:7.2:p2:*:*:*:*:*:*"))
    assert not criterion_matches(p2, host("cpe:2.3:a:openbsd:openssh:7.2p1:*:*:*:*:*:*:*"))
    assert criterion_matches(release, host("cpe:2.3:a:openbsd:openssh:9.3:*:*:*:*:*:*:*"))
    assert not criterion_matches(release, host("cpe:2.3:a:openbsd:openssh:9.3p1:*:*:*:*:*:*:*"))


# --- nginx, httpd, MySQL, MariaDB, OpenSSL --------------------------------------------------


def test_nginx_end_excluding_versus_including() -> None:
    excluding = simple(
        CpeCriterion(NGINX, version_start_including="1.0.0", version_end_excluding="1.22.1")
    )
    including = simple(
        CpeCriterion(NGINX, version_start_including="1.0.0", version_end_including="1.22.1")
    )
    facts = service("nginx", "1.22.1", NGINX)
    assert assess(facts, excluding) is None
    verdict = potential(assess(facts, including))
    assert t("vulndb_match.version_range", version="1.22.1", range="[1.0.0, 1.22.1]") in (
        verdict.reasons
    )
    assert potential(assess(service("nginx", "1.0.0", NGINX), excluding))
    assert assess(service("nginx", "0.9.9", NGINX), including) is None


def test_nginx_identified_by_name_only_uses_alias_table() -> None:
    config = simple(CpeCriterion(NGINX, version_end_including="1.22.1"))
    verdict = potential(assess(ServiceFacts(product="nginx", version="1.22.1"), config))
    assert verdict.confidence == RANGE_POINTS - ALIAS_ONLY_PENALTY
    assert t("vulndb_match.alias_only", product="nginx", cpe="f5:nginx") in verdict.reasons


def test_apache_httpd_end_including() -> None:
    config = simple(CpeCriterion(HTTPD, version_end_including="2.4.57"))
    assert potential(assess(service("Apache httpd", "2.4.57", HTTPD), config))
    assert assess(service("Apache httpd", "2.4.58", HTTPD), config) is None


def test_mysql_log_suffix() -> None:
    config = simple(CpeCriterion(MYSQL, version_end_including="5.7.44"))
    verdict = potential(assess(service("MySQL", "5.7.44-log", MYSQL), config))
    assert verdict.confidence == RANGE_POINTS  # a vendor suffix is not a distribution build
    assert potential(assess(ServiceFacts(product="MySQL", version="5.7.44-log"), config))
    assert assess(service("MySQL", "5.7.45-log", MYSQL), config) is None


@pytest.mark.parametrize(
    "version",
    ["10.11.19-MariaDB-0+deb12u1", "1:10.11.19-MariaDB-0+deb12u1", "5.5.5-10.11.19-MariaDB"],
)
def test_mariadb_range(version: str) -> None:
    inside = simple(
        CpeCriterion(MARIADB, version_start_including="10.11.0", version_end_excluding="10.11.20")
    )
    below = simple(
        CpeCriterion(MARIADB, version_start_including="10.11.0", version_end_excluding="10.11.19")
    )
    verdict = potential(assess(service("MariaDB", version, MARIADB), inside))
    if "deb12u1" in version:
        assert verdict.confidence == RANGE_POINTS - BACKPORT_PENALTY
        assert t("vulndb_match.backport", tag="deb12u1", distro="Debian") in verdict.reasons
    else:
        assert verdict.confidence == RANGE_POINTS
    assert assess(service("MariaDB", version, MARIADB), below) is None


def test_openssl_letter_releases() -> None:
    config = simple(CpeCriterion(OPENSSL, version_end_excluding="1.0.2l"))
    assert potential(assess(service("OpenSSL", "1.0.2k", OPENSSL), config))
    assert assess(service("OpenSSL", "1.0.2l", OPENSSL), config) is None
    assert assess(service("OpenSSL", "1.1.0", OPENSSL), config) is None
    exact = simple(CpeCriterion("cpe:2.3:a:openssl:openssl:1.0.2k:*:*:*:*:*:*:*"))
    verdict = potential(assess(service("OpenSSL", "1.0.2k", OPENSSL), exact))
    assert verdict.confidence == EXACT_POINTS
    assert t("vulndb_match.exact_version", version="1.0.2k") in verdict.reasons
    assert assess(service("OpenSSL", "1.0.2j", OPENSSL), exact) is None


def test_pre_releases_against_bounds_and_exact_criteria() -> None:
    product = "cpe:2.3:a:example:server:*:*:*:*:*:*:*:*"
    before_release = simple(CpeCriterion(product, version_end_excluding="8.0.0"))
    assert potential(assess(service("Server", "8.0.0-rc1", product), before_release))
    assert assess(service("Server", "8.0.0", product), before_release) is None
    rc1 = CpeCriterion("cpe:2.3:a:example:server:8.0.0:rc1:*:*:*:*:*:*")
    assert criterion_matches(rc1, parse_cpe("cpe:2.3:a:example:server:8.0.0-rc1"))
    assert not criterion_matches(rc1, parse_cpe("cpe:2.3:a:example:server:8.0.0"))


# --- criterion details ----------------------------------------------------------------------


def test_criterion_attribute_semantics() -> None:
    host = parse_cpe("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*")
    assert criterion_matches(CpeCriterion(OPENSSH), host)  # "*" without bounds: any version
    assert not criterion_matches(CpeCriterion("cpe:2.3:a:other:openssh:*"), host)
    assert not criterion_matches(CpeCriterion("cpe:2.3:o:openbsd:openssh:*"), host)
    assert criterion_matches(CpeCriterion("cpe:2.3:*:openbsd:openssh:9.2p1"), host)
    assert criterion_matches(CpeCriterion("cpe:2.3:a:openbsd:openssh:9.2*"), host)
    # A host whose version is unknown cannot fall inside a range.
    unknown = parse_cpe("cpe:2.3:a:openbsd:openssh:*:*:*:*:*:*:*:*")
    assert not criterion_matches(CpeCriterion(OPENSSH, version_end_excluding="9.3p2"), unknown)
    assert criterion_matches(CpeCriterion(OPENSSH), unknown)
    assert not criterion_matches(CpeCriterion("not a cpe"), host)
    # target_sw given by the criterion, unknown on the host: not a contradiction.
    assert criterion_matches(CpeCriterion("cpe:2.3:a:openbsd:openssh:*:*:*:*:*:linux:*:*"), host)
    assert not criterion_matches(
        CpeCriterion("cpe:2.3:a:openbsd:openssh:*:*:*:*:*:linux:*:*"),
        parse_cpe("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:windows:*:*"),
    )


def test_na_version_criterion() -> None:
    criterion = CpeCriterion("cpe:2.3:a:example:appliance_ui:-:*:*:*:*:*:*:*")
    assert criterion_matches(criterion, parse_cpe("cpe:2.3:a:example:appliance_ui:-"))
    assert criterion_matches(criterion, parse_cpe("cpe:2.3:a:example:appliance_ui:*"))
    assert not criterion_matches(criterion, parse_cpe("cpe:2.3:a:example:appliance_ui:2.0"))


def test_all_versions_criterion_has_low_confidence() -> None:
    verdict = potential(assess(service("OpenSSH", "9.2p1", OPENSSH), simple(CpeCriterion(OPENSSH))))
    assert verdict.confidence == ALL_VERSIONS_POINTS
    assert t("vulndb_match.all_versions", product="openssh") in verdict.reasons


def test_describe_range() -> None:
    assert CpeCriterion(OPENSSH).describe_range() == "(-∞, +∞)"
    both = CpeCriterion(OPENSSH, version_start_excluding="1", version_end_including="2")
    assert both.describe_range() == "(1, 2]"
    assert not CpeCriterion(OPENSSH, version_end_excluding="").has_bounds


# --- configurations: AND / OR / negate / platform -----------------------------------------

APP = CpeCriterion(OPENSSH, version_end_excluding="9.3p2")
HOST_APP = parse_cpe("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*")
HOST_LINUX = parse_cpe("cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*")
HOST_WINDOWS = parse_cpe("cpe:2.3:o:microsoft:windows:*:*:*:*:*:*:*:*")


def test_platform_node_confirmed_unconfirmed_or_contradicted() -> None:
    config = running_on(APP, LINUX)
    assert configuration_applies(config, [HOST_APP, HOST_LINUX]) is Applicability.YES
    assert configuration_applies(config, [HOST_APP]) is Applicability.UNCONFIRMED
    assert configuration_applies(config, [HOST_LINUX]) is Applicability.NO
    bounded = running_on(APP, "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*")
    kernel = Configuration(
        operator="AND",
        nodes=(
            bounded.nodes[0],
            ConfigNode(
                criteria=(
                    CpeCriterion(
                        "cpe:2.3:o:linux:linux_kernel:*:*:*:*:*:*:*:*",
                        vulnerable=False,
                        version_end_excluding="5.0",
                    ),
                )
            ),
        ),
    )
    # The kernel version is unknown: unconfirmed; a known newer kernel: no.
    assert configuration_applies(kernel, [HOST_APP, HOST_LINUX]) is Applicability.UNCONFIRMED
    newer = parse_cpe("cpe:2.3:o:linux:linux_kernel:6.1:*:*:*:*:*:*:*")
    assert configuration_applies(kernel, [HOST_APP, newer]) is Applicability.NO
    older = parse_cpe("cpe:2.3:o:linux:linux_kernel:4.19:*:*:*:*:*:*:*")
    assert configuration_applies(kernel, [HOST_APP, older]) is Applicability.YES


def test_assess_platform_reason_and_os_hint() -> None:
    config = [running_on(APP, LINUX)]
    unconfirmed = potential(assess(service("OpenSSH", "9.2p1", OPENSSH), config))
    assert unconfirmed.confidence == RANGE_POINTS - PLATFORM_PENALTY
    assert t("vulndb_match.platform_unconfirmed") in unconfirmed.reasons
    assert "运行平台条件未能确认" in unconfirmed.reasons
    confirmed = potential(assess(service("OpenSSH", "9.2p1", OPENSSH, os="Linux"), config))
    assert confirmed.confidence == RANGE_POINTS
    assert t("vulndb_match.platform_unconfirmed") not in confirmed.reasons
    # A deb12u marker implies Debian, which runs the Linux kernel.
    debian = potential(assess(service("OpenSSH", "9.2p1-2+deb12u3", OPENSSH), config))
    assert t("vulndb_match.platform_unconfirmed") not in debian.reasons


def test_platform_only_configuration_never_matches() -> None:
    config = Configuration(nodes=(ConfigNode(criteria=(CpeCriterion(LINUX, vulnerable=False),)),))
    assert configuration_applies(config, [HOST_APP, HOST_LINUX]) is Applicability.NO


def test_or_configuration_of_nodes() -> None:
    other = CpeCriterion("cpe:2.3:a:example:other:*")
    config = Configuration(nodes=(ConfigNode(criteria=(other,)), ConfigNode(criteria=(APP,))))
    assert configuration_applies(config, [HOST_APP]) is Applicability.YES
    both = Configuration(
        operator="AND", nodes=(ConfigNode(criteria=(other,)), ConfigNode(criteria=(APP,)))
    )
    assert configuration_applies(both, [HOST_APP]) is Applicability.NO


def test_and_node_requires_every_criterion() -> None:
    node = ConfigNode(operator="AND", criteria=(APP, CpeCriterion(LINUX, vulnerable=False)))
    config = Configuration(nodes=(node,))
    assert configuration_applies(config, [HOST_APP, HOST_LINUX]) is Applicability.YES
    assert configuration_applies(config, [HOST_APP]) is Applicability.UNCONFIRMED
    strict = ConfigNode(operator="AND", criteria=(APP, CpeCriterion("cpe:2.3:a:x:y:*")))
    assert configuration_applies(Configuration(nodes=(strict,)), [HOST_APP]) is Applicability.NO


def test_negated_platform_node() -> None:
    config = running_on(APP, WINDOWS, negate=True)  # "not running on Windows"
    assert configuration_applies(config, [HOST_APP, HOST_WINDOWS]) is Applicability.NO
    assert configuration_applies(config, [HOST_APP]) is Applicability.UNCONFIRMED
    known_other = parse_cpe("cpe:2.3:o:microsoft:windows:10:*:*:*:*:*:*:*")
    assert configuration_applies(config, [HOST_APP, known_other]) is Applicability.NO


def test_negated_vulnerable_node_and_configuration() -> None:
    negated = Configuration(nodes=(ConfigNode(criteria=(APP,), negate=True),))
    assert configuration_applies(negated, [HOST_APP]) is Applicability.NO
    inverted = Configuration(nodes=(ConfigNode(criteria=(APP,)),), negate=True)
    assert configuration_applies(inverted, [HOST_APP]) is Applicability.NO


def test_three_valued_negation() -> None:
    assert Applicability.YES.negated() is Applicability.NO
    assert Applicability.NO.negated() is Applicability.YES
    assert Applicability.UNCONFIRMED.negated() is Applicability.UNCONFIRMED


# --- verdict assembly -----------------------------------------------------------------------


def test_best_configuration_wins_and_confirmation() -> None:
    configs = [*simple(CpeCriterion(OPENSSH)), *CVE_2023_38408]
    facts = service("OpenSSH", "9.2p1", OPENSSH)
    assert potential(assess(facts, configs)).confidence == RANGE_POINTS
    confirmed = assess(facts, configs, confirmed_by="CVE-2023-38408-check")
    assert confirmed is not None and confirmed.status == "confirmed"
    assert confirmed.confidence == 100
    assert confirmed.reasons[0] == t("vulndb_match.confirmed", check="CVE-2023-38408-check")
    assert t("vulndb_match.version_only") not in confirmed.reasons


def test_confidence_floor_when_everything_lowers_it() -> None:
    config = [running_on(CpeCriterion(NGINX), LINUX)]
    facts = ServiceFacts(product="nginx", version="1.22.1-1~bpo11+1")
    verdict = potential(assess(facts, config))
    expected = ALL_VERSIONS_POINTS - BACKPORT_PENALTY - ALIAS_ONLY_PENALTY
    assert verdict.confidence == max(5, expected)


def test_nothing_known_matches_nothing() -> None:
    assert assess(ServiceFacts(), CVE_2023_38408) is None
    assert assess(ServiceFacts(cpes=("garbage",)), CVE_2023_38408) is None
    assert assess(service("OpenSSH", "9.2p1", OPENSSH), []) is None


def test_version_taken_from_cpe_when_service_version_missing() -> None:
    facts = ServiceFacts(cpes=("cpe:2.3:a:openbsd:openssh:9.2p1:*:*:*:*:*:*:*",))
    assert potential(assess(facts, CVE_2023_38408)).confidence == RANGE_POINTS
    facts = ServiceFacts(cpes=(r"cpe:2.3:a:mariadb:mariadb:10.11.19-mariadb-0\+deb12u1",))
    verdict = potential(
        assess(facts, simple(CpeCriterion(MARIADB, version_end_excluding="10.11.20")))
    )
    assert verdict.confidence == RANGE_POINTS - BACKPORT_PENALTY


def test_configurations_from_nvd_json() -> None:
    data = [
        {
            "operator": "AND",
            "nodes": [
                {
                    "operator": "OR",
                    "negate": False,
                    "cpeMatch": [
                        {
                            "vulnerable": True,
                            "criteria": OPENSSH,
                            "versionEndExcluding": "9.3p2",
                            "matchCriteriaId": "00000000-0000-0000-0000-000000000000",
                        }
                    ],
                },
                {"operator": "OR", "cpeMatch": [{"vulnerable": False, "criteria": LINUX}]},
            ],
        }
    ]
    (config,) = configurations_from_nvd(data)
    assert config.operator == "AND" and len(config.nodes) == 2
    assert config.nodes[0].criteria[0] == APP
    assert not config.nodes[1].criteria[0].vulnerable
    assert configuration_applies(config, [HOST_APP, HOST_LINUX]) is Applicability.YES
    assert configurations_from_nvd([{"nodes": []}])[0].operator == "OR"
