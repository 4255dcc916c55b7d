"""``copgate inspect`` against the real captures and their independent oracle.

``expected.tsv`` lists, per flow, the name nDPI found. Every DNS, TLS, HTTP
and QUIC (v1, v2, draft-29) name there must come out of ``copgate inspect``.
The oracle writes non-printable bytes as ``?`` where copgate escapes them as
``\\xNN``; the comparison maps one to the other. Google QUIC (Q0xx, T05x) and
QUIC drafts other than 29 are out of scope (see the data README).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.tools.inspect_cmd import CaptureSummary, inspect_capture
from tests.conftest import shared_data

OUT_OF_SCOPE_QUIC = re.compile(r"^(Q0\d\d|T05\d|Draft-(?!29$).*)$")
JSON_KEYS = {"capture", "proto", "client", "server", "name", "valid"}


def oracle_rows() -> list[list[str]]:
    text = shared_data("captures/expected.tsv").read_text()
    return [line.split("\t") for line in text.splitlines() if line.strip()]


def oracle_text(name: str | None) -> str:
    return re.sub(r"\\x[0-9a-f]{2}", "?", name or "")


@pytest.mark.shared_data
def test_every_oracle_name_comes_out_of_inspect() -> None:
    captures = shared_data("captures")
    cache: dict[str, list[dict[str, object]]] = {}
    checked = 0
    for pcap, l4, end_a, end_b, _proto, host, quic_version in oracle_rows():
        if OUT_OF_SCOPE_QUIC.match(quic_version):
            continue
        if pcap not in cache:
            cache[pcap] = list(inspect_capture(captures / pcap))
        names = {
            oracle_text(str(row["name"]))
            for row in cache[pcap]
            if {row["client"], row["server"]} == {end_a, end_b} and row["transport"] == l4.lower()
        }
        assert host in names, f"{pcap} {l4} {end_a} {end_b}: expected {host}, got {names}"
        checked += 1
    assert checked >= 70


@pytest.mark.shared_data
def test_names_that_are_not_host_names_are_reported_invalid_and_escaped() -> None:
    rows = list(inspect_capture(shared_data("captures/dns-invalid-chars.pcap")))
    invalid = [row for row in rows if not row["valid"]]
    assert invalid
    assert all("\\x" in str(row["name"]) for row in invalid)
    assert all(row["invalid_reason"] for row in invalid)


@pytest.mark.shared_data
def test_ech_kinds_are_reported() -> None:
    ech = {row["ech"] for row in inspect_capture(shared_data("captures/tls_ech.pcapng"))}
    assert ech == {"grease"}
    esni = list(inspect_capture(shared_data("captures/tls_esni_sni_both.pcap")))
    assert {row["ech"] for row in esni if row["proto"] == "tls"} == {"esni"}


@pytest.mark.shared_data
def test_idn_names_come_out_in_punycode() -> None:
    rows = list(inspect_capture(shared_data("captures/punycode-idn.pcap")))
    assert "www.xn--mnich-kva.com" in {row["name"] for row in rows}


@pytest.mark.shared_data
def test_damaged_packets_are_counted_and_skipped() -> None:
    summary = CaptureSummary()
    rows = list(inspect_capture(shared_data("captures/malformed_dns.pcap"), summary))
    assert "www.xt.com" in {row["name"] for row in rows}
    assert summary.damaged == 4
    assert "packet 2" in summary.first_damage


@pytest.mark.shared_data
def test_json_output_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    path = shared_data("captures/quic-v2.pcapng")
    assert main(["inspect", str(path), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines and all(set(line) >= JSON_KEYS for line in lines)
    (quic,) = [line for line in lines if line["proto"] == "quic"]
    assert quic["capture"] == str(path)
    assert quic["name"] == "test" and quic["ech"] == "none" and quic["valid"] is True
    assert quic["client"] == "[::1]:42086" and quic["server"] == "[::1]:4443"


def test_a_file_that_is_not_a_capture_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "notes.pcap"
    bogus.write_text("hello, not a capture\n")
    assert main(["inspect", str(bogus)]) == 1
    assert f"{bogus}: not a pcap or pcapng file" in capsys.readouterr().err


def test_a_truncated_capture_keeps_the_names_before_the_damage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copgate.tools.samples import write_sample_capture

    whole = tmp_path / "whole.pcap"
    write_sample_capture(whole)
    data = whole.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 7])
    status = main(["inspect", str(cut), "--json"])
    out, err = capsys.readouterr()
    assert status == 1
    assert str(cut) in err
    assert len(out.splitlines()) >= 3
