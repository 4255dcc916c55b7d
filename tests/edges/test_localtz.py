"""copgate.edges.localtz: one local timezone, from the config, /etc/TZ or /etc/localtime.

OpenWrt keeps a POSIX TZ string in /etc/TZ; Debian has a TZif file at
/etc/localtime whose footer holds the same string (RFC 8536 §3.3). Both
paths must give the same zone, or time windows shift by the UTC offset.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from copgate.edges import localtz
from copgate.edges.localtz import read_local_tz, read_tzif_footer
from copgate.policy.tz import UTC_TZ, parse_tz

BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"
ZONEINFO_BERLIN = Path("/usr/share/zoneinfo/Europe/Berlin")


def tzif(footer: str, *, version: bytes = b"2", transitions: int = 3) -> bytes:
    """A TZif file (RFC 8536 §3): v1 header and block, v2 header and block, footer.

    The transition times hold a newline byte (0x0a) on purpose: the footer
    must be found by the blocks' sizes, not by searching for a newline.
    """
    names = b"CET\x00CEST\x00"

    def block(time_size: int) -> bytes:
        header = struct.pack(">4sc15x6L", b"TZif", version, 2, 2, 0, transitions, 2, len(names))
        times = b"".join((0x0A0A0A0A + i).to_bytes(time_size, "big") for i in range(transitions))
        indices = bytes(i % 2 for i in range(transitions))
        types = struct.pack(">lBB", 3600, 0, 0) + struct.pack(">lBB", 7200, 1, 4)
        return header + times + indices + types + names + b"\x00\x00" + b"\x00\x00"

    return block(4) + block(8) + b"\n" + footer.encode("ascii") + b"\n"


def test_the_footer_is_read_by_the_blocks_sizes() -> None:
    assert read_tzif_footer(tzif(BERLIN)) == BERLIN
    assert read_tzif_footer(tzif("")) == ""
    assert read_tzif_footer(tzif("UTC0", version=b"3", transitions=0)) == "UTC0"


@pytest.mark.skipif(not ZONEINFO_BERLIN.exists(), reason="tzdata not installed")
def test_a_real_zoneinfo_file_gives_its_posix_string() -> None:
    assert read_tzif_footer(ZONEINFO_BERLIN.read_bytes()) == BERLIN


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not a TZif file"),
        (b"TZjf" + bytes(40), "not a TZif file"),
        (tzif(BERLIN)[:-1], "footer missing or cut short"),
        (tzif(BERLIN)[:60], "cut short"),
        (tzif(BERLIN) + b"x\n", "more than one line"),
    ],
)
def test_a_file_that_is_not_tzif_or_is_cut_short_is_refused(data: bytes, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        read_tzif_footer(data)


def test_every_truncation_is_refused_or_read_never_a_crash() -> None:
    whole = tzif(BERLIN)
    for end in range(len(whole)):
        try:
            read_tzif_footer(whole[:end])
        except ValueError:
            continue


def test_etc_tz_and_etc_localtime_agree(tmp_path: Path) -> None:
    # The OpenWrt path and the Debian path give the very same zone.
    etc_tz = tmp_path / "TZ"
    etc_tz.write_text(BERLIN + "\n")
    localtime = tmp_path / "localtime"
    localtime.write_bytes(tzif(BERLIN))
    missing = tmp_path / "absent"
    openwrt = read_local_tz(etc_tz=etc_tz, localtime=missing)
    debian = read_local_tz(etc_tz=missing, localtime=localtime)
    assert (openwrt.source, debian.source) == (str(etc_tz), str(localtime))
    assert openwrt.tz == debian.tz == parse_tz(BERLIN)
    assert openwrt.problems == debian.problems == ()


def test_the_config_wins_then_etc_tz_then_localtime_then_utc(tmp_path: Path) -> None:
    etc_tz = tmp_path / "TZ"
    etc_tz.write_text("MSK-3\n")
    localtime = tmp_path / "localtime"
    localtime.write_bytes(tzif(BERLIN))
    missing = tmp_path / "absent"
    assert read_local_tz("EST5EDT", etc_tz=etc_tz, localtime=localtime).tz == parse_tz("EST5EDT")
    assert read_local_tz("", etc_tz=etc_tz, localtime=localtime).tz == parse_tz("MSK-3")
    assert read_local_tz("", etc_tz=missing, localtime=localtime).tz == parse_tz(BERLIN)
    fallback = read_local_tz("", etc_tz=missing, localtime=missing)
    assert (fallback.tz, fallback.source, fallback.problems) == (UTC_TZ, "default", ())


def test_a_bad_source_is_passed_over_and_named(tmp_path: Path) -> None:
    etc_tz = tmp_path / "TZ"
    etc_tz.write_text(":Europe/Berlin\n")  # a tz database name: OpenWrt has none
    localtime = tmp_path / "localtime"
    localtime.write_bytes(b"not tzif")
    found = read_local_tz(etc_tz=etc_tz, localtime=localtime)
    assert found.tz == UTC_TZ
    assert len(found.problems) == 2
    assert found.problems[0].startswith(f"{etc_tz}: invalid POSIX TZ string")
    assert found.problems[1] == f"{localtime}: not a TZif file"


def test_the_module_paths_are_read_at_the_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    localtime = tmp_path / "localtime"
    localtime.write_bytes(tzif(BERLIN))
    monkeypatch.setattr(localtz, "ETC_TZ", tmp_path / "absent")
    monkeypatch.setattr(localtz, "LOCALTIME", localtime)
    assert read_local_tz().tz == parse_tz(BERLIN)
