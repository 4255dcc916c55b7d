"""The service options of [general]: ``enabled`` and ``firewall_backend``, in TOML and UCI."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.config.document import ConfigErrors
from copgate.config.load import load_config
from copgate.firewall.backend import BackendChoice

GROUP_TOML = '[group.home]\nmode = "filter"\n'
GROUP_UCI = "config group 'home'\n\toption mode 'filter'\n"


def _toml(tmp_path: Path, general: str) -> Path:
    path = tmp_path / "copgate.toml"
    path.write_text(f"[general]\n{general}\n{GROUP_TOML}")
    return path


def test_defaults_are_on_and_auto(tmp_path: Path) -> None:
    settings = load_config(_toml(tmp_path, "")).settings
    assert settings.enabled is True
    assert settings.firewall_backend is BackendChoice.AUTO


@pytest.mark.parametrize(
    ("text", "enabled", "backend"),
    [
        ('enabled = false\nfirewall_backend = "nft"', False, BackendChoice.NFT),
        ('enabled = true\nfirewall_backend = "iptables"', True, BackendChoice.IPTABLES),
    ],
)
def test_toml_sets_both(tmp_path: Path, text: str, enabled: bool, backend: BackendChoice) -> None:
    settings = load_config(_toml(tmp_path, text)).settings
    assert (settings.enabled, settings.firewall_backend) == (enabled, backend)


@pytest.mark.parametrize("word", ["0", "off", "no"])
def test_uci_switches_off(tmp_path: Path, word: str) -> None:
    path = tmp_path / "copgate"
    path.write_text(
        f"config general 'general'\n\toption enabled '{word}'\n"
        f"\toption firewall_backend 'nft'\n{GROUP_UCI}"
    )
    settings = load_config(path).settings
    assert settings.enabled is False
    assert settings.firewall_backend is BackendChoice.NFT


def test_an_unknown_backend_names_the_choices_and_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors) as raised:
        load_config(_toml(tmp_path, 'firewall_backend = "pf"'))
    message = str(raised.value)
    assert "firewall_backend" in message and ":2:" in message
    assert "auto, nft, iptables" in message
