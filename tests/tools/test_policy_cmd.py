"""`copgate config check` and `copgate check`, run as the command line runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copgate.cli import main
from copgate.lists.compile import build_cache
from copgate.lists.model import ListEntry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_UCI = ROOT / "examples" / "school.uci"
BUILT = 1_700_000_000  # 2023-11-14: the lists' build time, for clock plausibility


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    data, _ = build_cache(
        [
            ListEntry("adult.example", frozenset({"adult"})),
            ListEntry("video.example", frozenset({"audio-video"})),
            ListEntry("wikipedia.org", frozenset({"starter_whitelist"}), white=True),
        ],
        build_time=BUILT,
    )
    path = tmp_path / "lists.cgc"
    path.write_bytes(data)
    return path


@pytest.fixture
def config(tmp_path: Path, cache: Path) -> Path:
    path = tmp_path / "copgate.toml"
    path.write_text(
        f"""
[general]
lists = ["{cache}"]
timezone = "MSK-3"
lan_interfaces = ["br-lan", "br-kids"]
default_group = "kids"

[group.kids]
mode = "whitelist"
interfaces = ["br-kids"]

[group.older]
addresses = ["192.0.2.0/24"]
block_categories = ["adult"]

[[group.older.window]]
days = ["mon-fri"]
start = "08:30"
end = "15:00"
categories = ["audio-video"]
""",
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_config_check_prints_a_summary(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status, out = run(capsys, "config", "check", str(config))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"{config}: valid, 2 group(s)"
    assert lines[1] == "categories checked against 1 list cache(s)"
    assert "group kids (default): mode whitelist" in lines
    assert "  clients: addresses 192.0.2.0/24" in lines
    assert "  time windows: mon-fri 08:30-15:00 blocks audio-video" in lines


def test_config_check_prints_every_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "copgate"
    path.write_text(
        "config general\n\toption default_group 'kid'\n"
        "config group 'kids'\n\toption mode 'walled'\n\tlist interfaces 'br kids'\n"
    )
    status, out = run(capsys, "config", "check", str(path))
    assert status == 1
    assert out.splitlines() == [
        f"{path}:2: option 'default_group' in section 'general': expected the name of a group "
        "(kids), got 'kid' (did you mean 'kids'?)",
        f"{path}:4: option 'mode' in group 'kids': expected one of filter, whitelist, off, "
        "got 'walled'",
        f"{path}:5: option 'interfaces' in group 'kids': expected an interface name (1 to 15 "
        "characters, no '/', ':' or spaces), got 'br kids' (give one value per 'list' line or "
        "array element)",
        f"{path}: 3 error(s)",
    ]


def test_config_check_knows_the_categories_of_the_lists(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    config.write_text(config.read_text().replace('["adult"]', '["adutl"]'))
    status, out = run(capsys, "config", "check", str(config))
    assert status == 1
    assert (
        f"{config}:14: option 'block_categories' in group 'older': expected a category of the "
        "list catalogue, got 'adutl' (did you mean 'adult'?)"
    ) in out.splitlines()


def test_config_check_reads_a_category_alias_and_says_so(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    # The lists know "adult"; the config says "porn", as `copgate compile porn=...`
    # would: the same category, accepted against the catalogue, with a note.
    config.write_text(config.read_text().replace('["adult"]', '["porn"]'))
    status, out = run(capsys, "config", "check", str(config))
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == (
        f"{config}:14: warning: option 'block_categories' in group 'older': porn is an alias "
        "of adult; read as adult"
    )
    assert lines[1] == f"{config}: valid, 2 group(s), 1 warning(s)"
    assert "  blocked categories: adult" in lines


def test_config_check_warns_and_says_when_lists_are_missing(
    capsys: pytest.CaptureFixture[str], config: Path, cache: Path
) -> None:
    cache.unlink()
    config.write_text(config.read_text().replace('default_group = "kids"', 'default_group = "x"'))
    config.write_text(config.read_text() + '[group.x]\nmode = "off"\n')
    status, out = run(capsys, "config", "check", str(config))
    assert status == 0
    lines = out.splitlines()
    assert lines[0].endswith(
        "warning: the default group 'x' has mode off: unknown and spoofed devices land in the "
        "default group, which should be the strictest"
    )
    assert lines[1] == f"{config}: valid, 3 group(s), 1 warning(s)"
    assert lines[2].startswith("categories not checked against the lists: ")


def test_check_json(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status, out = run(
        capsys,
        "check",
        "www.adult.example",
        "--config",
        str(config),
        "--client",
        "192.0.2.7",
        "--json",
    )
    assert status == 0
    answer = json.loads(out)
    assert answer["verdict"] == "block"
    assert answer["group"] == "older"
    assert answer["category"] == "adult"
    assert answer["match"] == "adult.example"
    assert answer["list"] == "lists"  # lists.cgc, the cache that decided
    assert answer["rule"] == "category"
    assert "adult" in answer["reason"]
    assert answer["matched_by"] == "address in 192.0.2.0/24"


def test_check_json_for_an_unlisted_name(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status, out = run(
        capsys,
        "check",
        "example.net",
        "--config",
        str(config),
        "--json",
        "--iface",
        "br-lan",
        "--client",
        "192.0.2.7",
        "--kind",
        "tls",
    )
    answer = json.loads(out)
    assert (status, answer["verdict"], answer["list"], answer["category"], answer["match"]) == (
        0,
        "allow",
        None,
        None,
        None,
    )


def test_check_prints_the_reason_chain(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    args = ("check", "video.example", "--config", str(config), "--client", "192.0.2.7")
    status, out = run(capsys, *args, "--at", "2025-03-03T10:00")  # a Monday, in lessons
    assert status == 0
    assert out.splitlines() == [
        "video.example (dns) for client 192.0.2.7",
        "  group: older (address in 192.0.2.0/24)",
        "  local time: 2025-03-03T10:00",
        "  rule: time_window",
        "  reason: video.example is in audio-video, blocked in the window 08:30-15:00",
        "  list: lists",
        "  category: audio-video",
        "  match: video.example",
        "verdict: block",
    ]
    # After lessons, with the time given in UTC (16:00 MSK):
    status, out = run(capsys, *args, "--at", "2025-03-03T13:00+00:00")
    assert out.splitlines()[2] == "  local time: 2025-03-03T16:00+03:00"
    assert out.splitlines()[-1] == "verdict: allow"


def test_check_before_the_lists_were_built_is_strict(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    args = ("check", "video.example", "--config", str(config), "--client", "192.0.2.7")
    status, out = run(capsys, *args, "--at", "2000-01-01T20:00", "--json")
    answer = json.loads(out)
    assert status == 0
    assert answer["clock_plausible"] is False
    assert answer["verdict"] == "block"  # the window counts as active


def test_check_a_walled_garden_by_interface(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    def ask(name: str, kind: str) -> dict[str, object]:
        argv = ("check", name, "--config", str(config), "--iface", "br-kids", "--kind", kind)
        answer: dict[str, object] = json.loads(run(capsys, *argv, "--json")[1])
        return answer

    answer = ask("en.wikipedia.org", "tls")
    assert (answer["group"], answer["verdict"], answer["rule"]) == ("kids", "allow", "white_entry")
    assert answer["list"] == "lists"
    assert ask("example.net", "tls")["rule"] == "whitelist_only"
    # A walled garden refuses QUIC, so that browsers fall back to TLS over TCP.
    assert (
        ask("en.wikipedia.org", "quic")["verdict"],
        ask("en.wikipedia.org", "quic")["rule"],
    ) == (
        "block",
        "bypass",
    )


def test_check_names_both_lists_whose_entries_merged(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    """Two caches as the daemon reads them: black entries at one suffix merge."""
    data, _ = build_cache(
        [ListEntry("video.example", frozenset({"adult"})), ListEntry("new.example", frozenset())],
        build_time=BUILT,
    )
    school = tmp_path / "school.cgc"
    school.write_bytes(data)
    argv = ("check", "video.example", "--config", str(config), "--client", "192.0.2.7")
    lists = ("--lists", str(tmp_path / "lists.cgc"), "--lists", str(school))
    answer = json.loads(run(capsys, *argv, *lists, "--at", "2025-03-03T20:00", "--json")[1])
    assert (answer["verdict"], answer["rule"], answer["category"]) == ("block", "category", "adult")
    assert (answer["match"], answer["list"]) == ("video.example", "lists+school")
    unblocked = json.loads(run(capsys, "check", "www.new.example", *argv[2:], *lists, "--json")[1])
    assert (unblocked["verdict"], unblocked["match"]) == ("allow", "new.example")
    assert unblocked["list"] == "school"


def test_check_https_records(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    status, out = run(
        capsys,
        "check",
        "example.net",
        "--config",
        str(config),
        "--client",
        "192.0.2.7",
        "--qtype",
        "HTTPS",
        "--json",
    )
    assert status == 0
    answer = json.loads(out)
    assert answer["dns_nodata"] is True
    assert answer["rule"] == "bypass"


def test_check_the_shipped_uci_example(capsys: pytest.CaptureFixture[str], cache: Path) -> None:
    status, out = run(
        capsys,
        "check",
        "adult.example",
        "--config",
        str(EXAMPLE_UCI),
        "--lists",
        str(cache),
        "--iface",
        "br-older",
        "--json",
    )
    answer = json.loads(out)
    assert (status, answer["group"], answer["verdict"]) == (0, "older", "block")


def test_check_with_a_bad_config(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    config.write_text(config.read_text() + 'colour = "red"\n')
    status, out = run(capsys, "check", "example.net", "--config", str(config))
    assert status == 1
    assert out.splitlines() == [
        f"{config}:21: option 'colour' in window of group 'older': unknown option",
    ]


def test_check_without_the_lists(
    capsys: pytest.CaptureFixture[str], config: Path, cache: Path
) -> None:
    cache.unlink()
    status, out = run(capsys, "check", "example.net", "--config", str(config))
    assert status == 2
    assert out == (
        f"copgate check: {cache}: cannot open the list cache: No such file or directory\n"
    )


@pytest.mark.parametrize(
    "bad",
    [
        ["--mac", "02:00"],
        ["--client", "192.0.2.300"],
        ["--at", "tomorrow"],
        ["--qtype", "BOGUS"],
        ["--kind", "ftp"],
    ],
)
def test_check_refuses_bad_arguments(
    capsys: pytest.CaptureFixture[str], config: Path, bad: list[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["check", "example.net", "--config", str(config), *bad])
    assert caught.value.code == 2
    assert bad[0] in capsys.readouterr().err
