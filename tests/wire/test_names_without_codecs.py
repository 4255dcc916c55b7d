"""Names on a Python without the idna codec (OpenWrt's python3-light without python3-codecs).

Each test runs a fresh interpreter in which ``unicodedata`` cannot be
imported, exactly what the router lacks, so ``str.encode("idna")`` raises
``LookupError`` there, and checks that copgate refuses such names as data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

WITHOUT_UNICODEDATA = """
import sys
sys.modules["unicodedata"] = None  # what an import of a missing module gives
import json
"""


def _run(body: str) -> object:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_UNICODEDATA + body],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    return json.loads(result.stdout)


def test_the_simulation_really_lacks_the_codec() -> None:
    out = _run("""
try:
    "bücher".encode("idna")
    print(json.dumps("encoded"))
except LookupError as exc:
    print(json.dumps(f"LookupError: {exc}"))
""")
    assert out == "LookupError: unknown encoding: idna"


def test_a_utf8_name_is_refused_as_invalid_not_raised() -> None:
    out = _run("""
from copgate.wire.names import NO_IDNA_CODEC, name_from_bytes
name = name_from_bytes("www.münchen.de".encode())
print(json.dumps([name.text, name.valid, name.reason == NO_IDNA_CODEC]))
""")
    assert out == ["www.m\\xc3\\xbcnchen.de", False, True]


def test_punycode_and_ascii_names_need_no_codec() -> None:
    out = _run("""
from copgate.wire.names import name_from_bytes
names = [name_from_bytes(b"xn--mnchen-3ya.DE."), name_from_bytes(b"Example.org")]
print(json.dumps([[n.text, n.valid] for n in names]))
""")
    assert out == [["xn--mnchen-3ya.de", True], ["example.org", True]]


def test_with_the_codec_the_same_name_is_punycode() -> None:
    from copgate.wire.names import idna_available, name_from_bytes

    assert idna_available()
    assert name_from_bytes("www.münchen.de".encode()) == ("www.xn--mnchen-3ya.de", True, None)


def test_copgate_check_decides_such_a_name_by_the_groups_invalid_names_treatment(
    tmp_path: Path,
) -> None:
    from copgate.lists.compile import build_cache
    from copgate.lists.model import ListEntry

    data, _ = build_cache([ListEntry("adult.example", frozenset({"adult"}))], build_time=1)
    (tmp_path / "l.cgc").write_bytes(data)
    config = tmp_path / "c.toml"
    config.write_text(
        f'[general]\nlists = ["{tmp_path / "l.cgc"}"]\n'
        '[group.home]\nmode = "filter"\ninvalid_names = "refuse"\n'
    )
    out = _run(f"""
import contextlib, io
from copgate.cli import main
buffer = io.StringIO()
with contextlib.redirect_stdout(buffer):
    status = main(["check", "www.münchen.de", "--config", {str(config)!r}])
print(json.dumps([status, buffer.getvalue()]))
""")
    assert isinstance(out, list)
    status, text = out
    assert status == 0
    assert "rule: invalid_name" in text and "python3-codecs" in text
    assert text.rstrip().endswith("verdict: block")
