"""signify/usign keys and signatures: our own round trips, malformed files, and
compatibility both ways with Debian's signify-openbsd (the reference)."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from copgate.release.errors import BadSignature, UnknownKey
from copgate.release.signify import (
    format_public_key,
    format_secret_key,
    format_signature,
    generate_key,
    public_key_line,
    read_public_key,
    read_secret_key,
    read_signature,
    sign,
    verify,
)
from tests.release.helpers import RELEASE_KEY, ROOT

MESSAGE = b"release.json bytes\n"


def signify_tool() -> str:
    """The signify-openbsd binary; scripts/setup.sh installs it (a skip fails in CI)."""
    tool = shutil.which("signify-openbsd") or shutil.which("signify")
    if tool is None:
        pytest.skip("signify-openbsd is not installed (apt-get install signify-openbsd)")
    return tool


def test_a_signature_verifies_with_its_key_and_names_it() -> None:
    sig = read_signature(format_signature(sign(MESSAGE, ROOT)), "m.sig")
    assert verify(MESSAGE, sig, [RELEASE_KEY.public_key, ROOT.public_key], "m") == ROOT.public_key


def test_a_signature_does_not_verify_another_message() -> None:
    sig = sign(MESSAGE, ROOT)
    with pytest.raises(BadSignature, match="does not verify"):
        verify(MESSAGE + b" ", sig, [ROOT.public_key], "m")


def test_a_key_with_the_right_keynum_but_other_bytes_does_not_verify() -> None:
    sig = sign(MESSAGE, ROOT)
    impostor = type(ROOT.public_key)(keynum=ROOT.keynum, key=RELEASE_KEY.public)
    with pytest.raises(BadSignature):
        verify(MESSAGE, sig, [impostor], "m")


def test_a_signature_by_a_key_not_listed_is_an_unknown_key() -> None:
    with pytest.raises(UnknownKey, match=ROOT.keynum.hex()):
        verify(MESSAGE, sign(MESSAGE, ROOT), [RELEASE_KEY.public_key], "m")


def test_key_files_round_trip() -> None:
    assert read_public_key(format_public_key(ROOT.public_key), "k.pub") == ROOT.public_key
    assert read_public_key(public_key_line(ROOT.public_key), "line") == ROOT.public_key
    assert read_secret_key(format_secret_key(ROOT), "k.sec") == ROOT


def test_generated_keys_differ() -> None:
    assert generate_key() != generate_key()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a\nb\nc\n", "got 3 lines"),
        ("comment\nAAAA\n", "untrusted comment"),
        ("untrusted comment: x\n!!!\n", "not base64"),
        ("untrusted comment: x\n" + base64.b64encode(b"Ed" + bytes(70)).decode(), "72 bytes"),
        ("untrusted comment: x\n" + base64.b64encode(b"Xx" + bytes(72)).decode(), "algorithm"),
        ("x" * 5000, "too long"),
    ],
)
def test_malformed_signatures_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(BadSignature, match=message):
        read_signature(text, "f.sig")


def test_a_public_key_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(BadSignature, match="public key of 74 bytes"):
        read_public_key(base64.b64encode(b"Ed" + bytes(72)).decode(), "k.pub")


def test_a_corrupted_secret_key_is_refused_by_its_checksum() -> None:
    text = format_secret_key(ROOT)
    comment, line = text.splitlines()
    raw = bytearray(base64.b64decode(line))
    raw[-1] ^= 1
    with pytest.raises(BadSignature, match="checksum"):
        read_secret_key(f"{comment}\n{base64.b64encode(bytes(raw)).decode()}\n", "k.sec")


def test_a_passphrase_protected_secret_key_is_refused_with_advice(tmp_path: Path) -> None:
    tool = signify_tool()
    pub, sec = tmp_path / "k.pub", tmp_path / "k.sec"
    # Without -n signify asks for a passphrase; feed it on stdin twice.
    subprocess.run(
        [tool, "-G", "-p", str(pub), "-s", str(sec)],
        input=b"secret\nsecret\n",
        check=False,
        capture_output=True,
    )
    if not sec.exists():
        pytest.skip("this signify reads passphrases only from a terminal")
    with pytest.raises(BadSignature, match="passphrase"):
        read_secret_key(sec.read_text(), str(sec))


def test_signify_signs_and_copgate_verifies(tmp_path: Path) -> None:
    tool = signify_tool()
    pub, sec, msg = tmp_path / "root.pub", tmp_path / "root.sec", tmp_path / "keyset.json"
    subprocess.run([tool, "-G", "-n", "-p", str(pub), "-s", str(sec)], check=True)
    msg.write_bytes(MESSAGE)
    subprocess.run([tool, "-S", "-s", str(sec), "-m", str(msg)], check=True)
    key = read_public_key(pub.read_text(), str(pub))
    sig = read_signature((tmp_path / "keyset.json.sig").read_text(), "keyset.json.sig")
    assert verify(MESSAGE, sig, [key], "keyset.json") == key
    # signify's secret key file reads too, and signs what signify verifies.
    assert read_secret_key(sec.read_text(), str(sec)).public_key == key


def test_copgate_signs_and_signify_verifies(tmp_path: Path) -> None:
    tool = signify_tool()
    pub, msg = tmp_path / "release.pub", tmp_path / "release.json"
    pub.write_text(format_public_key(RELEASE_KEY.public_key))
    msg.write_bytes(MESSAGE)
    (tmp_path / "release.json.sig").write_text(format_signature(sign(MESSAGE, RELEASE_KEY)))
    done = subprocess.run(
        [tool, "-V", "-p", str(pub), "-m", str(msg)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Signature Verified" in done.stdout


def test_signify_refuses_a_message_copgate_signed_after_tampering(tmp_path: Path) -> None:
    tool = signify_tool()
    pub, msg = tmp_path / "release.pub", tmp_path / "release.json"
    pub.write_text(format_public_key(RELEASE_KEY.public_key))
    (tmp_path / "release.json.sig").write_text(format_signature(sign(MESSAGE, RELEASE_KEY)))
    msg.write_bytes(MESSAGE + b"tampered")
    done = subprocess.run(
        [tool, "-V", "-p", str(pub), "-m", str(msg)], capture_output=True, check=False
    )
    assert done.returncode != 0


def test_signify_signs_with_a_secret_key_copgate_wrote(tmp_path: Path) -> None:
    tool = signify_tool()
    sec, msg = tmp_path / "release.sec", tmp_path / "release.json"
    sec.write_text(format_secret_key(RELEASE_KEY))
    msg.write_bytes(MESSAGE)
    subprocess.run([tool, "-S", "-s", str(sec), "-m", str(msg)], check=True)
    sig = read_signature((tmp_path / "release.json.sig").read_text(), "release.json.sig")
    assert verify(MESSAGE, sig, [RELEASE_KEY.public_key], "release.json") == RELEASE_KEY.public_key
