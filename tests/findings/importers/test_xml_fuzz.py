"""Hostile and broken input for the Nmap, GVM, Nessus and Burp importers.

Whatever the bytes, parsing ends normally or with ImportFormatError — never another
exception — and entity tricks (XXE, billion laughs) are refused without being expanded.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shaobing.findings.importers import _xml
from shaobing.findings.importers.base import SNIFF_BYTES, Importer, ImportFormatError
from shaobing.findings.importers.burp import BurpImporter
from shaobing.findings.importers.gvm import GvmImporter
from shaobing.findings.importers.nessus import NessusImporter
from shaobing.findings.importers.nmap import NmapImporter
from shaobing.findings.importers.registry import detect_importer

IMPORTERS: list[type[Importer]] = [NmapImporter, GvmImporter, NessusImporter, BurpImporter]

SEEDS: dict[str, tuple[type[Importer], bytes]] = {
    "nmap.xml": (
        NmapImporter,
        b"""<?xml version="1.0"?><!DOCTYPE nmaprun>
<nmaprun><host><status state="up"/><address addr="192.0.2.1" addrtype="ipv4"/>
<hostnames><hostname name="a.example.test"/></hostnames><ports>
<port protocol="tcp" portid="22"><state state="open"/>
<service name="ssh" product="OpenSSH" version="7.4"><cpe>cpe:/a:openbsd:openssh:7.4</cpe>
</service><script id="vulners" output="x"><table key="cpe:/a:openbsd:openssh:7.4">
<table><elem key="cvss">5.0</elem><elem key="id">CVE-2018-15919</elem>
<elem key="type">cve</elem></table></table></script>
<script id="ssl-heartbleed" output="State: VULNERABLE"><table key="CVE-2014-0160">
<elem key="title">Heartbleed</elem><elem key="state">VULNERABLE</elem><table key="scores">
<elem key="CVSSv3">7.5 (HIGH) (CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N)</elem>
</table></table></script></port></ports>
<os><osmatch name="Linux" accuracy="90"/></os>
<hostscript><script id="smb-vuln-ms17-010" output="VULNERABLE:&#xa;T&#xa;State: VULNERABLE"/>
</hostscript></host></nmaprun>""",
    ),
    "gvm.xml": (
        GvmImporter,
        b"""<report id="1" format_id="f"><report id="1">
<scan_run_status>Done</scan_run_status><results><result id="r">
<name>x</name><host>192.0.2.2<hostname>h.example.test</hostname></host><port>443/tcp</port>
<nvt oid="1.3.6.1.4.1.25623.1.0.1"><name>Weak</name><tags>summary=s|insight=i|solution=fix</tags>
<severities><severity type="cvss_base_v3"><score>5.3</score>
<value>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N</value></severity></severities>
<refs><ref type="cve" id="CVE-2020-0001"/><ref type="url" id="https://example.test/"/></refs>
</nvt><threat>Medium</threat><severity>5.3</severity><qod><value>80</value></qod>
<description>found</description></result></results>
<host><ip>192.0.2.2</ip><detail><name>best_os_txt</name><value>Linux</value></detail></host>
</report></report>""",
    ),
    "gvm.csv": (
        GvmImporter,
        b"""IP,Hostname,Port,Port Protocol,CVSS,Severity,QoD,NVT Name,\
Summary,Specific Result,NVT OID,CVEs,Solution
192.0.2.3,h,22,tcp,4.3,Medium,80,"Weak SSH","sum","res
line 2",1.3.6.1.4.1.25623.1.0.2,"CVE-2008-5161",fix
192.0.2.3,,,,0.0,Log,80,Info,,,1.3.6.1.4.1.25623.1.0.3,,
""",
    ),
    "nessus.xml": (
        NessusImporter,
        b"""<?xml version="1.0" ?><NessusClientData_v2>
<Report name="r" xmlns:cm="http://www.nessus.org/cm"><ReportHost name="192.0.2.4">
<HostProperties><tag name="host-ip">192.0.2.4</tag><tag name="host-fqdn">n.example.test</tag>
<tag name="operating-system">Linux</tag></HostProperties>
<ReportItem port="443" svc_name="www" protocol="tcp" severity="3" pluginID="1" pluginName="P">
<cve>CVE-2021-0001</cve><cwe>79</cwe><xref>CWE:89</xref><see_also>https://example.test/</see_also>
<cvss3_vector>CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</cvss3_vector>
<cvss3_base_score>9.8</cvss3_base_score><plugin_output>out</plugin_output></ReportItem>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="0" pluginID="2"
 pluginName="C"><cm:compliance-check-name>c</cm:compliance-check-name></ReportItem>
</ReportHost></Report></NessusClientData_v2>""",
    ),
    "nessus.csv": (
        NessusImporter,
        b"""Plugin ID,CVE,CVSS,Risk,Host,Protocol,Port,Name,Synopsis,\
Description,Solution,See Also,Plugin Output,XREF
1,CVE-2020-0001,5.0,Medium,192.0.2.5,tcp,80,N,s,d,fix,https://example.test/,"o
k",CWE:79
1,CVE-2020-0002,5.0,Medium,192.0.2.5,tcp,80,N,s,d,fix,https://example.test/,"o
k",CWE:79
""",
    ),
    "tvm.csv": (
        NessusImporter,
        b"""asset.display_ipv4_address;definition.id;definition.name;\
severity;port;protocol;state;definition.cwe;output
192.0.2.6;3;T;High;22;TCP;ACTIVE;79, 89;'out
192.0.2.7;4;U;Low;0;TCP;FIXED;;
""",
    ),
    "burp.xml": (
        BurpImporter,
        b"""<?xml version="1.0"?><!DOCTYPE issues [
<!ELEMENT issues (issue*)><!ATTLIST issues burpVersion CDATA "">]>
<issues burpVersion="2023.1"><issue><serialNumber>1</serialNumber><type>1049088</type>
<name>SQLi</name><host ip="192.0.2.8">https://b.example.test</host><path>/a</path>
<location>/a [q parameter]</location><severity>High</severity><confidence>Firm</confidence>
<issueBackground><![CDATA[<p>x &amp; y</p><ul><li>z</li></ul>]]></issueBackground>
<vulnerabilityClassifications><![CDATA[<a href="https://cwe.mitre.org/">CWE-89</a>]]>
</vulnerabilityClassifications><requestresponse>
<request base64="true">R0VUIC9hIEhUVFAvMS4x</request><response base64="true">SFRUUC8xLjE=</response>
</requestresponse></issue></issues>""",
    ),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def parse_all(importer: type[Importer], path: Path) -> None:
    """Parse to the end; ImportFormatError is the only acceptable failure."""
    try:
        records = list(importer().parse(path))
    except ImportFormatError as exc:
        message = str(exc)
    else:
        assert records, "a successful parse always ends with coverage"
        return
    assert "\n" not in message  # one line for the CLI


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seeds_parse(workdir: Path, name: str) -> None:
    importer, data = SEEDS[name]
    path = workdir / name
    path.write_bytes(data)
    assert importer.sniff(path, data[:SNIFF_BYTES])
    assert detect_importer(path).name == importer.name
    records = list(importer().parse(path))
    assert len(records) >= 2


FAST = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FAST
@given(data=st.binary(max_size=2048))
def test_random_bytes(workdir: Path, data: bytes) -> None:
    for suffix in (".xml", ".csv"):
        path = workdir / f"random{suffix}"
        path.write_bytes(data)
        for importer in IMPORTERS:
            importer.sniff(path, data[:SNIFF_BYTES])
            parse_all(importer, path)
        if data.strip():
            with contextlib.suppress(ImportFormatError):
                detect_importer(path)


def mutate(data: bytes, ops: list[tuple[int, int, int, bytes]]) -> bytes:
    for kind, a, b, blob in ops:
        if not data:
            return blob
        i, j = sorted((a % len(data), b % len(data)))
        if kind == 0:
            data = data[:i]  # truncated
        elif kind == 1:
            data = data[:i] + data[j:]  # a slice removed
        elif kind == 2:
            data = data[:i] + blob + data[i:]  # junk inserted
        elif kind == 3:
            data = data[:i] + bytes([b % 256]) + data[i + 1 :]  # one byte changed
        else:
            data = data[:j] + data[i:j] + data[j:]  # a slice repeated
    return data


OPS = st.lists(
    st.tuples(
        st.integers(0, 4), st.integers(0, 10_000), st.integers(0, 10_000), st.binary(max_size=24)
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(SEEDS)), ops=OPS)
def test_mutated_seeds(workdir: Path, name: str, ops: list[tuple[int, int, int, bytes]]) -> None:
    importer, seed = SEEDS[name]
    data = mutate(seed, ops)
    path = workdir / f"mutated-{name}"
    path.write_bytes(data)
    parse_all(importer, path)
    for other in IMPORTERS:
        other.sniff(path, data[:SNIFF_BYTES])


@FAST
@given(name=st.sampled_from(sorted(SEEDS)), cut=st.integers(0, 4000))
def test_truncated_seeds_are_refused(workdir: Path, name: str, cut: int) -> None:
    importer, seed = SEEDS[name]
    data = seed[: cut % len(seed)]
    path = workdir / f"cut-{name}"
    path.write_bytes(data)
    if name.endswith(".xml"):
        # An XML document cut anywhere before its last element closes is incomplete.
        with pytest.raises(ImportFormatError):
            list(importer().parse(path))
    else:
        parse_all(importer, path)


# --------------------------------------------------------------------------- entities
ROOTS = {
    NmapImporter: "nmaprun",
    GvmImporter: "report",
    NessusImporter: "NessusClientData_v2",
    BurpImporter: "issues",
}


def billion_laughs(root: str) -> str:
    levels = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
    ]
    return f'<?xml version="1.0"?><!DOCTYPE {root} [{"".join(levels)}]><{root}>&lol9;</{root}>'


@pytest.mark.parametrize("importer", IMPORTERS)
def test_billion_laughs_refused_without_expansion(tmp_path: Path, importer: type[Importer]) -> None:
    path = tmp_path / "lol.xml"
    path.write_text(billion_laughs(ROOTS[importer]), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(ImportFormatError) as caught:
        list(importer().parse(path))
    assert time.monotonic() - started < 2  # 10^9 "lol"s were never built
    assert "lol0" in str(caught.value) and "XXE" in str(caught.value)


@pytest.mark.parametrize("importer", IMPORTERS)
def test_xxe_refused(tmp_path: Path, importer: type[Importer]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE", encoding="utf-8")
    root = ROOTS[importer]
    path = tmp_path / "xxe.xml"
    path.write_text(
        f'<?xml version="1.0"?><!DOCTYPE {root} '
        f'[<!ENTITY xxe SYSTEM "{secret.as_uri()}">]><{root}>&xxe;</{root}>',
        encoding="utf-8",
    )
    with pytest.raises(ImportFormatError) as caught:
        list(importer().parse(path))
    assert "xxe" in str(caught.value) and "TOP-SECRET" not in str(caught.value)


def test_parameter_entity_refused(tmp_path: Path) -> None:
    path = tmp_path / "pe.xml"
    path.write_text(
        '<!DOCTYPE issues [<!ENTITY % ext SYSTEM "http://127.0.0.1:9/x.dtd"> %ext;]>'
        '<issues burpVersion="1"/>',
        encoding="utf-8",
    )
    with pytest.raises(ImportFormatError, match="ext"):
        list(BurpImporter().parse(path))


def test_external_dtd_is_never_loaded(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "LEAKED">', encoding="utf-8")
    path = tmp_path / "ext.xml"
    path.write_text(
        f'<!DOCTYPE nmaprun SYSTEM "{dtd.as_uri()}"><nmaprun>&leak;</nmaprun>', encoding="utf-8"
    )
    # The DTD is not read, so the entity stays undefined: a plain format error.
    with pytest.raises(ImportFormatError, match="undefined entity"):
        list(NmapImporter().parse(path))


# --------------------------------------------------------------------------- limits
def test_oversized_file_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    importer, data = SEEDS["nmap.xml"]
    path = tmp_path / "big.xml"
    path.write_bytes(data)
    monkeypatch.setattr(_xml, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImportFormatError, match="超过导入上限"):
        list(importer().parse(path))
    csv_path = tmp_path / "big.csv"
    csv_path.write_bytes(SEEDS["gvm.csv"][1])
    with pytest.raises(ImportFormatError, match="超过导入上限"):
        list(GvmImporter().parse(csv_path))


def test_deep_nesting_refused(tmp_path: Path) -> None:
    path = tmp_path / "deep.xml"
    path.write_text("<nmaprun>" + "<a>" * 1000 + "</a>" * 1000 + "</nmaprun>", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="256"):
        list(NmapImporter().parse(path))


def test_memory_stays_flat(tmp_path: Path) -> None:
    hosts = "".join(
        f'<host><status state="up"/><address addr="198.51.100.{n % 250}" addrtype="ipv4"/>'
        f'<ports><port protocol="tcp" portid="{n % 65000 + 1}"><state state="open"/></port>'
        f"</ports></host>"
        for n in range(3000)
    )
    path = tmp_path / "many.xml"
    path.write_text(f"<nmaprun>{hosts}<runstats/></nmaprun>", encoding="utf-8")
    root = None
    widest = 0
    for event in _xml.iter_xml(
        path,
        roots={"nmaprun"},
        format_label="Nmap XML",
        capture=lambda p: p == ("nmaprun", "host"),
        notify=lambda p: p == ("nmaprun",),
    ):
        if event.kind == "start":
            root = event.elem
        elif root is not None and event.path[-1] == "host":
            widest = max(widest, len(root))
    # Handled hosts are detached: the root never holds more than the parser's lookahead.
    assert root is not None and 0 < widest < 200
    assert len(list(NmapImporter().parse(path))) == 3001


def test_utf16_csv_and_gb18030_csv(tmp_path: Path) -> None:
    header = "IP,Hostname,Port,Port Protocol,CVSS,Severity,NVT Name,NVT OID,Summary\n"
    row = "192.0.2.9,主机,80,tcp,5.0,Medium,弱口令,1.3.6.1.4.1.25623.1.0.9,说明\n"
    for encoding, name in (("utf-16", "u16.csv"), ("gb18030", "gb.csv")):
        path = tmp_path / name
        path.write_bytes((header + row).encode(encoding))
        assert detect_importer(path).name == "openvas"
        finding = next(iter(GvmImporter().parse(path)))
        assert getattr(finding, "title", None) == "弱口令"


def test_every_problem_key_is_translated() -> None:
    import re

    from shaobing.core.i18n import catalogue

    src = Path(_xml.__file__).parent
    used = {"bad_xml", "truncated_xml", "no_root"}  # chosen at run time from expat's code
    for name in ("_xml.py", "nmap.py", "gvm.py", "nessus.py", "burp.py"):
        used.update(re.findall(r"\bfail\(\s*\w+,\s*\"(\w+)\"", (src / name).read_text("utf-8")))
    for language in ("zh-CN", "en"):
        keys = {k.split(".", 1)[1] for k in catalogue(language) if k.startswith("importers_xml.")}
        assert keys == used, language  # every reason translated, none left over
