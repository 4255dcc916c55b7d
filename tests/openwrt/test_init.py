"""/etc/init.d/copgate under a shell shim of procd, uci and functions.sh.

The script runs in dash (Debian's POSIX shell, close to OpenWrt's busybox
ash), with procd's calls recorded (``tests/openwrt/shim.sh``); the test
reads back the instance it declares: command, respawn, reload signal, files
watched, log, privileges, for the shipped config and edited ones.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ROOT / "openwrt" / "copgate" / "files"
INIT = FILES / "etc" / "init.d" / "copgate"
CONFIG = FILES / "etc" / "config" / "copgate"
SHIM = Path(__file__).parent / "shim.sh"
SHELLS = [shell for shell in ("dash", "busybox") if shutil.which(shell)]

Calls = list[tuple[str, ...]]


def _sh() -> list[str]:
    if not SHELLS:
        pytest.fail("no POSIX shell (dash or busybox) to run the init script in")
    return ["busybox", "ash"] if SHELLS[0] == "busybox" else ["dash"]


def run_init(config: Path, *, ujail: Path | None = None) -> tuple[Calls, str]:
    """The procd calls of start_service and service_triggers, and stderr."""
    script = f"""
. {SHIM}
. {INIT}
CONFIG={config}
UJAIL={ujail or "/nonexistent/ujail"}
CAPABILITIES={FILES / "etc" / "capabilities" / "copgate.json"}
start_service
service_triggers
"""
    result = subprocess.run(
        [*_sh(), "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"SHIM_UCI": str(config), "PATH": "/usr/bin:/bin"},
    )
    calls = [tuple(line.split("\x1f")) for line in result.stdout.splitlines()]
    return calls, result.stderr


def params(calls: Calls) -> dict[str, tuple[str, ...]]:
    return {call[1]: call[2:] for call in calls if call[0] == "procd_set_param"}


def test_the_shipped_config_declares_one_respawning_instance_reloaded_by_sighup() -> None:
    calls, stderr = run_init(CONFIG)
    assert stderr == ""
    assert calls[0] == ("procd_open_instance", "copgate")
    assert calls[-2] == ("procd_close_instance",)
    assert calls[-1] == ("procd_add_reload_trigger", "copgate")
    declared = params(calls)
    assert declared["command"] == ("/usr/bin/copgate", "run", "--config", str(CONFIG))
    assert declared["respawn"] == ("3600", "5", "5")
    assert declared["reload_signal"] == ("HUP",)
    assert declared["file"] == (str(CONFIG),)
    assert declared["stdout"] == ("1",) and declared["stderr"] == ("1",)
    assert "capabilities" not in declared  # no ujail on this router


def test_with_ujail_only_netfilters_capabilities_and_no_new_privileges(tmp_path: Path) -> None:
    ujail = tmp_path / "ujail"
    ujail.write_text("#!/bin/sh\n")
    ujail.chmod(0o755)
    declared = params(run_init(CONFIG, ujail=ujail)[0])
    capabilities = FILES / "etc" / "capabilities" / "copgate.json"
    assert declared["capabilities"] == (str(capabilities),)
    assert declared["no_new_privs"] == ("1",)
    assert '"CAP_NET_ADMIN", "CAP_NET_RAW"]' in capabilities.read_text()


@pytest.mark.parametrize("word", ["0", "off", "no", "false", "disabled"])
def test_switched_off_declares_no_instance(tmp_path: Path, word: str) -> None:
    edited = tmp_path / "copgate"
    edited.write_text(CONFIG.read_text().replace("option enabled '1'", f"option enabled '{word}'"))
    calls, stderr = run_init(edited)
    # procd stops an instance a reload no longer declares.
    assert calls == [("procd_add_reload_trigger", "copgate")]
    assert "switched off" in stderr


def test_an_edited_config_without_the_switch_is_on_and_watched_at_its_path(
    tmp_path: Path,
) -> None:
    edited = tmp_path / "copgate"
    edited.write_text(
        CONFIG.read_text().replace("\toption enabled '1'\n", "").replace("'br-lan'", "'br-kids'")
    )
    declared = params(run_init(edited)[0])
    assert declared["command"][-1] == str(edited)
    assert declared["file"] == (str(edited),)
    assert declared["reload_signal"] == ("HUP",)


@pytest.mark.parametrize(
    "path",
    [
        INIT,
        FILES / "etc" / "uci-defaults" / "90-copgate",
        FILES / "usr" / "share" / "copgate" / "fw4-reload.sh",
    ],
    ids=lambda p: p.name,
)
def test_the_shell_scripts_parse_in_a_posix_shell_and_are_executable(path: Path) -> None:
    subprocess.run([*_sh(), "-n", str(path)], check=True)
    assert path.stat().st_mode & 0o111


def test_the_fw4_include_signals_copgates_instance_with_sighup(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "lib" / "functions").mkdir(parents=True)
    init = root / "etc" / "init.d" / "copgate"
    init.write_text("#!/bin/sh\n")
    init.chmod(0o755)
    (root / "lib" / "functions" / "procd.sh").write_text(
        'procd_send_signal() { echo "signal $*" > "$IPKG_INSTROOT/sent"; }\n'
    )
    script = FILES / "usr" / "share" / "copgate" / "fw4-reload.sh"
    env = {"IPKG_INSTROOT": str(root), "PATH": "/usr/bin:/bin"}
    subprocess.run([*_sh(), str(script)], env=env, check=True)
    assert (root / "sent").read_text() == "signal copgate copgate HUP\n"
    # No copgate installed: nothing to signal, and fw4's reload must not fail.
    init.unlink()
    (root / "sent").unlink()
    subprocess.run([*_sh(), str(script)], env=env, check=True)
    assert not (root / "sent").exists()
