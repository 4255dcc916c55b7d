"""Real clients run from a lab namespace, their output turned into results.

Thin wrappers: each builds one command line for a real tool (dig, kdig,
curl, openssl s_client, aioquic's HTTP/3 client, headless Chromium through
chromedriver), runs it inside a client's namespace and returns a frozen
result a test can assert on. A client that gets no answer (a dropped packet)
returns a result saying so, never hangs a test: every tool is given its own
timeout and is killed past it. Parsing is of the tools' human output, which
these Debian versions print as shown in the tests.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from urllib.parse import urlsplit

from copgate.lab.processes import LabTimeout, Namespace, python_env, run
from copgate.lab.topology import Client

Where = Client | Namespace
"""A client (its namespace) or any lab namespace."""
Address = str | IPv4Address | IPv6Address

SLACK = 5.0
"""Seconds a command gets beyond its own timeout before it is killed."""

_STATUS = re.compile(r"status: ([A-Z]+)")
_EDE = re.compile(r"EDE: (\d+)")
_SECTION = re.compile(r";; ([A-Z]+) SECTION:")


def _netns(where: Where) -> Namespace:
    return where.netns if isinstance(where, Client) else where


# -- DNS ---------------------------------------------------------------------


class DnsTool(Enum):
    DIG = "dig"
    KDIG = "kdig"


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record as the tool printed it."""

    name: str
    ttl: int
    rtype: str
    data: str


@dataclass(frozen=True, slots=True)
class DnsResult:
    """What a DNS client got back."""

    status: str | None
    """The RCODE name (NOERROR, NXDOMAIN, ...); None when no answer came."""
    answer: tuple[Record, ...]
    authority: tuple[Record, ...]
    ede: tuple[int, ...]
    """RFC 8914 Extended DNS Error codes in the answer's OPT record."""
    output: str

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def addresses(self) -> tuple[str, ...]:
        """The A and AAAA data of the answer section."""
        return tuple(r.data for r in self.answer if r.rtype in {"A", "AAAA"})


def parse_dns_output(output: str) -> DnsResult:
    """Read dig's or kdig's default output: status, answer, authority, EDE."""
    status = _STATUS.search(output)
    sections: dict[str, list[Record]] = {"ANSWER": [], "AUTHORITY": []}
    current: list[Record] | None = None
    for line in output.splitlines():
        heading = _SECTION.match(line)
        if heading:
            current = sections.get(heading.group(1))
            continue
        if not line.strip():
            current = None
            continue
        if current is None or line.startswith(";"):
            continue
        fields = line.split(None, 4)
        if len(fields) == 5 and fields[1].isdigit():
            name, ttl, _cls, rtype, data = fields
            current.append(Record(name, int(ttl), rtype, data.strip()))
    return DnsResult(
        status.group(1) if status else None,
        tuple(sections["ANSWER"]),
        tuple(sections["AUTHORITY"]),
        tuple(int(code) for code in _EDE.findall(output)),
        output,
    )


def dig(
    where: Where,
    name: str,
    *,
    server: Address,
    qtype: str = "A",
    tcp: bool = False,
    tool: DnsTool = DnsTool.DIG,
    timeout: float = 2.0,
) -> DnsResult:
    """Ask ``server`` one question with dig or kdig, one try, no retry."""
    seconds = max(1, round(timeout))
    argv = [tool.value, f"@{server}", name, qtype]
    if tool is DnsTool.DIG:
        argv += [f"+time={seconds}", "+tries=1"]
    else:
        argv += [f"+timeout={seconds}", "+retry=0"]
    if tcp:
        argv.append("+tcp")
    try:
        result = run(_netns(where), argv, timeout=seconds + SLACK)
    except LabTimeout as exc:
        return DnsResult(None, (), (), (), str(exc))
    return parse_dns_output(result.stdout + result.stderr)


# -- HTTP and TLS --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpResult:
    """What an HTTP client got back."""

    status: int | None
    """The HTTP status; None when no response came."""
    body: str
    error: str | None
    """The client's error message (curl's errormsg, a QUIC timeout...)."""
    exit_code: int | None
    """The tool's exit status (curl: 7 refused, 28 timeout, 35 TLS, 56 reset)."""
    http_version: str | None = None
    remote_ip: str | None = None
    redirect: str | None = None
    """Where a 3xx pointed (curl does not follow)."""

    @property
    def page(self) -> dict[str, str]:
        """The ``key=value`` words of the lab page: host, scheme, protocol, client..."""
        return page_fields(self.body)


def page_fields(body: str) -> dict[str, str]:
    """The ``key=value`` words of a lab server's page."""
    fields: dict[str, str] = {}
    for word in body.split():
        key, sep, value = word.partition("=")
        if sep and key.isidentifier():
            fields[key] = value
    return fields


def _bracketed(address: Address) -> str:
    text = str(address)
    return f"[{text}]" if ":" in text else text


def curl(
    where: Where,
    url: str,
    *,
    resolve: Address | None = None,
    cacert: Path | None = None,
    family: int | None = None,
    timeout: float = 5.0,
    extra: Sequence[str] = (),
) -> HttpResult:
    """One GET with curl; ``resolve`` pins the URL's host to an address (no DNS)."""
    argv = ["curl", "-sS", "--max-time", str(timeout), "-w", "\n%{json}"]
    if resolve is not None:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        argv += ["--resolve", f"{parts.hostname}:{port}:{_bracketed(resolve)}"]
    if cacert is not None:
        argv += ["--cacert", str(cacert)]
    if family is not None:
        argv.append(f"-{family}")
    argv += [*extra, url]
    try:
        result = run(_netns(where), argv, timeout=timeout + SLACK)
    except LabTimeout as exc:
        return HttpResult(None, "", str(exc), None)
    body, _, meta_line = result.stdout.rpartition("\n")
    try:
        meta = json.loads(meta_line)
    except json.JSONDecodeError:
        return HttpResult(None, result.stdout, result.stderr.strip(), result.returncode)
    code = meta.get("http_code") or None
    return HttpResult(
        code,
        body,
        meta.get("errormsg"),
        result.returncode,
        meta.get("http_version"),
        meta.get("remote_ip") or None,
        meta.get("redirect_url"),
    )


@dataclass(frozen=True, slots=True)
class TlsResult:
    """What ``openssl s_client`` saw."""

    connected: bool
    """The handshake completed."""
    verified: bool
    """The certificate chain and the host name verified against the lab CA."""
    protocol: str | None
    output: str
    exit_code: int | None


def s_client(
    where: Where,
    address: Address,
    name: str,
    *,
    cafile: Path,
    port: int = 443,
    timeout: float = 5.0,
) -> TlsResult:
    """A TLS handshake to ``address`` with SNI ``name``, then close."""
    argv = ["openssl", "s_client", "-connect", f"{_bracketed(address)}:{port}"]
    argv += ["-servername", name, "-verify_hostname", name, "-CAfile", str(cafile)]
    argv += ["-verify_return_error", "-brief"]
    try:
        result = run(_netns(where), argv, timeout=timeout, stdin="")
    except LabTimeout as exc:
        return TlsResult(False, False, None, str(exc), None)
    output = result.stdout + result.stderr
    protocol = re.search(r"Protocol version: (\S+)", output)
    return TlsResult(
        "CONNECTION ESTABLISHED" in output,
        "Verification: OK" in output,
        protocol.group(1) if protocol else None,
        output,
        result.returncode,
    )


def h3_get(
    where: Where,
    address: Address,
    name: str,
    *,
    cafile: Path,
    version: int = 1,
    path: str = "/",
    timeout: float = 5.0,
) -> HttpResult:
    """One HTTP/3 GET over QUIC ``version`` (1 or 2) to ``address`` with SNI ``name``."""
    argv = [sys.executable, "-m", "copgate.lab.h3", "get", "--address", str(address)]
    argv += ["--name", name, "--cafile", str(cafile), "--version", str(version)]
    argv += ["--path", path, "--timeout", str(timeout)]
    try:
        result = run(_netns(where), argv, timeout=timeout + SLACK, env=python_env())
    except LabTimeout as exc:
        return HttpResult(None, "", str(exc), None)
    try:
        meta = json.loads(result.stdout)
    except json.JSONDecodeError:
        return HttpResult(None, "", result.stderr.strip()[-500:], result.returncode)
    version_seen = meta.get("version")
    return HttpResult(
        meta.get("status"),
        meta.get("body", ""),
        meta.get("error"),
        result.returncode,
        None if version_seen is None else f"h3/quic-0x{version_seen:x}",
        str(address),
    )


# -- Chromium ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PageResult:
    """What headless Chromium showed for one URL."""

    title: str | None
    text: str | None
    error: str | None
    """The navigation error, e.g. ``net::ERR_CONNECTION_RESET``."""

    @property
    def page(self) -> dict[str, str]:
        return page_fields(self.text or "")


def chromium(
    where: Where,
    url: str,
    *,
    spki_pin: str | None = None,
    resolve: Address | None = None,
    quic: bool = False,
    timeout: float = 10.0,
    log: Path | None = None,
) -> PageResult:
    """Load ``url`` in headless Chromium over TCP, or over QUIC when ``quic``.

    ``spki_pin`` is the lab server key's pin (``TestPki.spki_sha256``), which
    Chromium trusts in place of the test CA; ``resolve`` maps the URL's host
    to an address inside Chromium (as curl's ``--resolve``), so that only the
    SNI can tell the gateway the name.
    """
    host = urlsplit(url).hostname or ""
    switches: list[str] = []
    if spki_pin is not None:
        switches.append(f"--ignore-certificate-errors-spki-list={spki_pin}")
    if resolve is not None:
        switches.append(f"--host-resolver-rules=MAP {host} {_bracketed(resolve)}")
    if quic:
        switches += ["--enable-quic", f"--origin-to-force-quic-on={host}:443"]
    else:
        switches.append("--disable-quic")
    argv = [sys.executable, "-m", "copgate.lab.browser", url, "--timeout", str(timeout)]
    argv += [f"--arg={switch}" for switch in switches]
    if log is not None:
        argv += ["--driver-log", str(log)]
    try:
        result = run(_netns(where), argv, timeout=timeout + 4 * SLACK, env=python_env())
    except LabTimeout as exc:
        return PageResult(None, None, str(exc))
    try:
        meta = json.loads(result.stdout)
    except json.JSONDecodeError:
        return PageResult(None, None, result.stderr.strip()[-500:])
    return PageResult(meta.get("title"), meta.get("text"), meta.get("error"))
