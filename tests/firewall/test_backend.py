"""copgate.firewall.backend: nft under fw4, iptables elsewhere, an error with neither."""

from __future__ import annotations

import pytest

from copgate.firewall.backend import Backend, BackendChoice, Host, NoBackendError, choose_backend

OPENWRT = Host(nft=True, iptables=False, fw4=True)
OPENWRT_WITH_IPTABLES_NFT = Host(nft=True, iptables=True, fw4=True)
DEBIAN = Host(nft=True, iptables=True, fw4=False)
NFT_ONLY = Host(nft=True, iptables=False, fw4=False)
OLD_GATEWAY = Host(nft=False, iptables=True, fw4=False)
BARE = Host(nft=False, iptables=False, fw4=False)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (OPENWRT, Backend.NFT),
        (OPENWRT_WITH_IPTABLES_NFT, Backend.NFT),  # fw4 owns the firewall
        (DEBIAN, Backend.IPTABLES),
        (NFT_ONLY, Backend.NFT),
        (OLD_GATEWAY, Backend.IPTABLES),
    ],
)
def test_auto_picks_nft_under_fw4_and_iptables_on_other_gateways(
    host: Host, expected: Backend
) -> None:
    assert choose_backend(BackendChoice.AUTO, host) is expected


def test_a_forced_backend_is_used_where_its_command_exists() -> None:
    assert choose_backend(BackendChoice.NFT, DEBIAN) is Backend.NFT
    assert choose_backend(BackendChoice.IPTABLES, OPENWRT_WITH_IPTABLES_NFT) is Backend.IPTABLES


@pytest.mark.parametrize(
    ("choice", "host", "words"),
    [
        (BackendChoice.AUTO, BARE, "no firewall command found"),
        (BackendChoice.AUTO, Host(nft=False, iptables=True, fw4=True), "fw4 runs the firewall"),
        (BackendChoice.NFT, OLD_GATEWAY, "the config asks"),
        (BackendChoice.IPTABLES, OPENWRT, "'iptables-restore'"),
    ],
)
def test_a_missing_command_is_a_clear_error(choice: BackendChoice, host: Host, words: str) -> None:
    with pytest.raises(NoBackendError, match=words):
        choose_backend(choice, host)
