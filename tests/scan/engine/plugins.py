"""Check plugins used only by the engine tests (registered on demand, removed afterwards).

Importing this module registers nothing; ``SHAOBING_PLUGINS=tests.scan.engine.plugins_auto``
(its sibling) registers them in a subprocess.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import ClassVar

from shaobing.findings.severity import Severity
from shaobing.scan.checks import Check, CheckContext, Observation, Safety, ServiceTarget

SECRET = "S3cret-Passw0rd!"


class BannerCheck(Check):
    """Reports a service whose greeting starts with VULN (through ctx.connect)."""

    id = "test-engine.banner"
    safety = Safety.PASSIVE

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Read the greeting; a VULN greeting is a finding with a recovered secret."""
        with ctx.connect(target.address, target.port, timeout=1.0) as sock:
            try:
                data = sock.recv(64)
            except OSError:
                return
        if data.startswith(b"VULN"):
            yield Observation(
                check_id=self.id,
                title="测试漏洞",
                severity=Severity.HIGH,
                address=target.address,
                port=target.port,
                protocol=target.protocol,
                description="测试用检查发现的问题",
                remediation="关闭测试服务",
                evidence=f"greeting {data[:16]!r}; password {SECRET}",
                identity="admin",
                secret=SECRET,
                cvss_v3_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:L/A:N",
            )


class SlowCheck(Check):
    """Takes ``seconds`` (option) per service, returning early when asked to stop."""

    id = "test-engine.slow"
    safety = Safety.ACTIVE
    running: ClassVar[Counter[str]] = Counter()
    peak: ClassVar[Counter[str]] = Counter()
    calls: ClassVar[Counter[str]] = Counter()
    lock: ClassVar[threading.Lock] = threading.Lock()

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Sleep in small steps; count how many run at once per host."""
        with self.lock:
            self.running[target.address] += 1
            self.calls[target.key] += 1
            self.peak[target.address] = max(self.peak[target.address], self.running[target.address])
        try:
            deadline = time.monotonic() + float(ctx.options.get("seconds", 0.3))
            while time.monotonic() < deadline and not ctx.should_stop():
                time.sleep(0.01)
        finally:
            with self.lock:
                self.running[target.address] -= 1
        return iter(())


class BrokenCheck(Check):
    """Always fails: the engine must count it and go on."""

    id = "test-engine.broken"
    safety = Safety.PASSIVE

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Raise."""
        raise RuntimeError("boom")


class IntrusiveCheck(Check):
    """Must never run under a policy that does not allow intrusive checks."""

    id = "test-engine.intrusive"
    safety = Safety.INTRUSIVE
    ran: ClassVar[int] = 0

    def run(self, target: ServiceTarget, ctx: CheckContext) -> Iterator[Observation]:
        """Count the run."""
        IntrusiveCheck.ran += 1
        return iter(())
