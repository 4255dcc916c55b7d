"""Reading provenance.json and tracing a decision to its proposal or upstream source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from copgate.errors import ProvenanceError
from copgate.lists.provenance import (
    MAX_PROVENANCE_BYTES,
    beside,
    explain,
    read_provenance,
    read_provenance_file,
    why_lines,
)
from tests.lists.provenance_sample import UT1_SHA256, sample_bytes, sample_document

WHERE = "/tmp/ram/current/provenance.json"


def test_a_curated_block_names_its_proposal_expert_approver_and_date() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "www.casino.example", "casino.example", "gambling", "block")
    assert [(e.proposal, e.action, e.expert, e.approver) for e in why.entries] == [
        (12, "add", "erin", "ada")
    ]
    assert why.sources == () and why.removed == ()
    assert why_lines(why) == [
        "release 7: listed by proposal #12 (add, by erin, approved by ada on "
        "2026-12-05T09:30:00+00:00; list default)"
    ]


def test_an_upstream_entry_names_the_sources_of_its_category() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "poker.example", "poker.example", "gambling", "block")
    assert why.entries == ()
    assert [s.name for s in why.sources] == ["ut1"]
    assert why.sources[0].sha256 == UT1_SHA256
    assert why_lines(why) == [
        "release 7: from upstream source ut1 (ut1, https://dsi.ut-capitole.fr/blacklists/"
        "download/blacklists.tar.gz, sha256 5f5f5f5f5f5f5f5f, fetched 2026-12-05T03:00:00+00:00)"
    ]


def test_a_curated_entry_of_another_category_leaves_the_decision_to_the_sources() -> None:
    # casino.example is curated in gambling; had it decided in ads, the upstream did.
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "casino.example", "casino.example", "ads", "block")
    assert [e.proposal for e in why.entries] == [12]
    assert [s.name for s in why.sources] == ["local-ads"]
    why = explain(provenance, "casino.example", "casino.example", "ads", "allow")
    assert why.entries == () and [s.name for s in why.sources] == ["local-ads"]


def test_a_white_entry_is_found_by_its_kind() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    allowed = explain(provenance, "school.example", "school.example", "starter_whitelist", "allow")
    assert [e.proposal for e in allowed.entries] == [15]
    blocked = explain(provenance, "school.example", "school.example", None, "block")
    assert blocked.entries == ()


def test_a_removal_of_the_name_or_a_parent_is_named() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "WWW.Wrongly.Example.", None, None, None)
    assert [(r.name, r.proposal, r.action) for r in why.removed] == [
        ("wrongly.example", 13, "remove")
    ]
    assert why_lines(why) == [
        "release 7: wrongly.example removed from the upstream lists by proposal #13 "
        "(remove, by erin, approved by ada on 2026-12-05T09:30:00+00:00; list default)"
    ]
    assert explain(provenance, "example", None, None, None).removed == ()


def test_a_recategorisation_shows_the_new_entry_and_the_removal() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "news.example", "news.example", "news", "block")
    assert [(e.proposal, e.category) for e in why.entries] == [(14, "news")]
    assert [(r.proposal, r.action) for r in why.removed] == [(14, "recategorise")]


def test_an_entry_without_a_proposal_says_so() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "own.example", "own.example", "adult", "block")
    assert why_lines(why) == ["release 7: listed by entry without a proposal (list default, block)"]


def test_a_listed_name_the_file_does_not_explain_says_so() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "x.example", "x.example", "violence", "block")
    assert why_lines(why) == [
        "release 7: x.example: no curated entry, and no source names violence"
    ]
    # Listed in categories the group does not block: no category decided.
    why = explain(provenance, "x.example", "x.example", None, None)
    assert why_lines(why) == [
        "release 7: x.example: no curated entry; listed by the upstream sources"
    ]


def test_as_dict_carries_the_same() -> None:
    provenance = read_provenance(sample_bytes(), WHERE)
    why = explain(provenance, "casino.example", "casino.example", "gambling", "block")
    assert why.as_dict()["entries"] == [
        {
            "name": "casino.example",
            "list": "default",
            "kind": "block",
            "category": "gambling",
            "proposal": 12,
            "action": "add",
            "expert": "erin",
            "approver": "ada",
            "approved": "2026-12-05T09:30:00+00:00",
        }
    ]


def _broken(change: Any) -> bytes:
    document = sample_document()
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[]", "not a JSON object"),
        (_broken(lambda d: d.update(format=2)), "format 2, this reader knows 1"),
        (_broken(lambda d: d.pop("removed")), "missing field 'removed'"),
        (_broken(lambda d: d.update(release="7")), "field 'release' must be a int"),
        (
            _broken(lambda d: d["entries"][1].update(kind="maybe")),
            "entries[1]: kind 'maybe', expected one of ['allow', 'block']",
        ),
        (
            _broken(lambda d: d["entries"][0].update(proposal=True)),
            "entries[0]: field 'proposal' must be a int",
        ),
        (
            _broken(lambda d: d["entries"][0].pop("category")),
            "entries[0]: missing field 'category'",
        ),
        (
            _broken(lambda d: d["sources"][1].update(categories=[1])),
            "sources[1]: 'categories' must list strings",
        ),
        (_broken(lambda d: d["removed"].append("x")), "removed[2]: not an object"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_a_malformed_file_is_refused_naming_file_and_place(data: bytes, message: str) -> None:
    with pytest.raises(ProvenanceError) as caught:
        read_provenance(data, WHERE)
    assert str(caught.value).startswith(f"{WHERE}: ")
    assert message in str(caught.value)


def test_files_beside_the_cache_absent_oversized_and_unreadable(tmp_path: Path) -> None:
    cache = tmp_path / "current" / "lists.cache"
    path = beside(cache)
    assert path == tmp_path / "current" / "provenance.json"
    assert read_provenance_file(path) is None  # a release without it
    path.parent.mkdir()
    path.write_bytes(sample_bytes())
    provenance = read_provenance_file(path)
    assert provenance is not None and provenance.release == 7
    path.write_bytes(b" " * (MAX_PROVENANCE_BYTES + 1))
    with pytest.raises(ProvenanceError, match=f"more than {MAX_PROVENANCE_BYTES}"):
        read_provenance_file(path)
    path.unlink()
    path.mkdir()
    with pytest.raises(ProvenanceError, match="cannot be read"):
        read_provenance_file(path)
