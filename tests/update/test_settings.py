"""copgate.update.settings: the [update] section in TOML and UCI, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from copgate.config.document import ConfigErrors
from copgate.config.load import parse_text
from copgate.config.summary import describe, describe_update
from copgate.config.templates import TemplateStore
from copgate.config.validate import validate
from copgate.policy.model import Config
from copgate.update.model import DEFAULT_RAM_DIR, UpdateSettings

KEY = "RWQBAQIDBAUGB4qI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"  # tests.update.distributor.key(1)
GROUP_TOML = '\n[group.all]\ninterfaces = ["br-lan"]\n'
GROUP_UCI = "\nconfig group 'all'\n\tlist interfaces 'br-lan'\n"
TEMPLATES = Path(__file__).parent.parent / "config" / "fixtures" / "templates"


def load(text: str, syntax: str = "toml") -> Config:
    file = "c.toml" if syntax == "toml" else "copgate"
    document = parse_text(text, file, syntax)
    return validate(document, templates=TemplateStore(TEMPLATES)).config


def errors(text: str, syntax: str = "toml") -> list[str]:
    with pytest.raises(ConfigErrors) as caught:
        load(text, syntax)
    return caught.value.lines


def test_a_toml_section_with_defaults() -> None:
    config = load(
        f'[update]\nurl = "https://lists.example.org/copgate/"\nroot_keys = ["{KEY}"]\n'
        + GROUP_TOML
    )
    assert config.update == UpdateSettings("https://lists.example.org/copgate", (KEY,))
    # Without a 'lists' option the release in force is the list set.
    assert config.settings.lists == (f"{DEFAULT_RAM_DIR}/current/lists.cache",)


def test_a_uci_section_with_every_option() -> None:
    text = (
        f"""config update
\toption url 'http://192.0.2.1:8080/tree'
\tlist root_keys '{KEY}'
\tlist root_keys '/etc/copgate/root2.pub'
\toption interval '3600'
\toption jitter '0.5'
\toption ram_dir '/tmp/rel'
\toption flash_dir '/overlay/rel'
\toption builtin_dir '/rom/copgate'
\toption flash_copy_interval '0'
\toption max_size '12M'

config general
\tlist lists '/tmp/rel/current/lists.cache'
\tlist lists '/etc/copgate/school.cgc'
"""
        + GROUP_UCI
    )
    config = load(text, "uci")
    assert config.update == UpdateSettings(
        "http://192.0.2.1:8080/tree",
        (KEY, "/etc/copgate/root2.pub"),
        interval=3600,
        jitter=0.5,
        ram_dir="/tmp/rel",
        flash_dir="/overlay/rel",
        builtin_dir="/rom/copgate",
        flash_copy_interval=0,
        max_size=12 * 1024 * 1024,
    )
    assert config.settings.lists == ("/tmp/rel/current/lists.cache", "/etc/copgate/school.cgc")


def test_without_the_section_nothing_polls() -> None:
    assert load(GROUP_TOML).update is None


def test_each_bad_value_is_named_with_its_line() -> None:
    text = (
        """[update]
url = "ftp://lists.example.org"
root_keys = ["RWSnotakey", "relative/root.pub"]
interval = 5
jitter = 2
flash_dir = "etc/copgate"
max_size = "2T"
"""
        + GROUP_TOML
    )
    assert errors(text) == [
        "c.toml:2: option 'url' in section 'update': expected an http:// or https:// URL "
        "of a release tree, got 'ftp://lists.example.org'",
        "c.toml:3: option 'root_keys' in section 'update': expected a signify public key "
        "(its base64 line) or the absolute path of a .pub file, got 'RWSnotakey'",
        "c.toml:3: option 'root_keys' in section 'update': expected a signify public key "
        "(its base64 line) or the absolute path of a .pub file, got 'relative/root.pub'",
        "c.toml:4: option 'interval' in section 'update': expected an integer from 10 to "
        "604800, got '5'",
        "c.toml:5: option 'jitter' in section 'update': expected a fraction from 0 to 1 "
        "(e.g. 0.25), got '2'",
        "c.toml:6: option 'flash_dir' in section 'update': expected an absolute directory "
        "path, got 'etc/copgate'",
        "c.toml:7: option 'max_size' in section 'update': expected a size in bytes, or with "
        "K, M or G (e.g. 8M), up to 1G, got '2T'",
    ]


def test_url_and_root_keys_are_required_and_unknown_options_refused() -> None:
    text = "config update\n\toption interval '600'\n\toption intervall '600'\n" + GROUP_UCI
    assert errors(text, "uci") == [
        "copgate:1: section 'update': option 'url' is required",
        "copgate:1: section 'update': option 'root_keys' is required",
        "copgate:3: option 'intervall' in section 'update': unknown option "
        "(did you mean 'interval'?)",
    ]


def test_the_section_twice_is_an_error() -> None:
    section = f"config update\n\toption url 'https://a.example'\n\tlist root_keys '{KEY}'\n"
    lines = errors(section + section + GROUP_UCI, "uci")
    assert lines == ["copgate:4: section 'update' is given twice (first on line 1)"]


def test_config_check_tells_the_update_section_back() -> None:
    config = load(f'[update]\nurl = "https://a.example/t"\nroot_keys = ["{KEY}"]\n' + GROUP_TOML)
    assert config.update is not None
    assert f"updates: {describe_update(config.update)}" in describe(config)
    assert describe_update(config.update).startswith(
        "signed releases from https://a.example/t, every 21600 s (+-25%), 1 root key(s), "
        "RAM /var/lib/copgate/releases, flash /etc/copgate/releases"
    )
    assert not any(line.startswith("updates:") for line in describe(load(GROUP_TOML)))
