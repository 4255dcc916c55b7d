"""Several caches as one lookup: the rules of one cache hold across them,
and every match names the cache (or caches) that decided it.

The caches are real files named ``default.cgl`` and ``school.cgl``, so the
names in the answers are their stems, as the daemon reports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copgate.errors import CacheError
from copgate.lists.listset import ListSet, _merged
from copgate.lists.model import NOT_LISTED, ListEntry, ListMatch
from tests.lists.helpers import black, cache_bytes, white

DEFAULT = [
    black("casino.example", "gambling"),
    black("tube.example", "audio-video"),
    black("both.example", "adult"),
    black("edu.example", "games"),
    white("wiki.example", "starter_whitelist"),
]
SCHOOL = [
    black("casino.example", "school_block"),  # the same suffix: categories merge
    white("lessons.tube.example", "liste_bu"),  # more specific: the school's decides
    white("both.example", "liste_bu"),  # white beats black at the same suffix
    black("edu.example", "games"),  # the same categories: still both lists
    black("ads.wiki.example", "publicite"),  # black under the other list's white
]


def write(directory: Path, stem: str, entries: list[ListEntry]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.cgl"
    path.write_bytes(cache_bytes(entries))
    return path


@pytest.fixture
def lists(tmp_path: Path) -> Iterator[ListSet]:
    paths = [write(tmp_path, "default", DEFAULT), write(tmp_path, "school", SCHOOL)]
    with_both = ListSet.open(paths)
    yield with_both
    with_both.close()


# name -> (match, categories, white, list_name) across default then school
ACROSS = [
    ("www.casino.example", "casino.example", {"gambling", "school_block"}, False, "default+school"),
    ("edu.example", "edu.example", {"games"}, False, "default+school"),
    ("tube.example", "tube.example", {"audio-video"}, False, "default"),
    ("lessons.tube.example", "lessons.tube.example", {"liste_bu"}, True, "school"),
    ("a.lessons.tube.example", "lessons.tube.example", {"liste_bu"}, True, "school"),
    ("both.example", "both.example", {"liste_bu"}, True, "school"),
    ("en.wiki.example", "wiki.example", {"starter_whitelist"}, True, "default"),
    ("x.ads.wiki.example", "ads.wiki.example", {"publicite"}, False, "school"),
]


@pytest.mark.parametrize(("name", "match", "categories", "is_white", "list_name"), ACROSS)
def test_two_caches_answer_as_one_and_name_the_list(
    lists: ListSet,
    name: str,
    match: str,
    categories: set[str],
    is_white: bool,
    list_name: str,
) -> None:
    expected = ListMatch(True, match, frozenset(categories), is_white, list_name)
    assert lists.lookup(name) == expected


def test_unlisted_across_caches_is_not_listed(lists: ListSet) -> None:
    assert lists.lookup("example.net") is NOT_LISTED


def opened(*paths: Path) -> ListSet:
    """A ListSet over ``paths``; the caller closes it."""
    return ListSet.open(list(paths))


def test_merged_names_follow_the_lookup_order(tmp_path: Path) -> None:
    school_first = opened(write(tmp_path, "school", SCHOOL), write(tmp_path, "default", DEFAULT))
    try:
        found = school_first.lookup("casino.example")
    finally:
        school_first.close()
    assert found.list_name == "school+default"
    assert found.categories == {"gambling", "school_block"}


def test_three_caches_at_one_suffix_name_all_three(tmp_path: Path) -> None:
    paths = [write(tmp_path, stem, [black("x.example", stem)]) for stem in ("a", "b", "c")]
    three = opened(*paths)
    try:
        assert three.lookup("www.x.example") == ListMatch(
            True, "x.example", frozenset({"a", "b", "c"}), False, "a+b+c"
        )
    finally:
        three.close()


def test_two_files_of_one_stem_are_named_once(tmp_path: Path) -> None:
    first = write(tmp_path / "etc", "default", [black("x.example", "adult")])
    second = write(tmp_path / "opt", "default", [black("x.example", "gambling")])
    same = opened(first, second)
    try:
        assert same.lookup("x.example").list_name == "default"
    finally:
        same.close()


def test_one_cache_is_that_cache_and_its_name(tmp_path: Path) -> None:
    alone = opened(write(tmp_path, "default", DEFAULT))
    try:
        assert alone.lookup == alone.caches[0].lookup
        assert alone.lookup("casino.example").list_name == "default"
    finally:
        alone.close()


def test_a_bad_file_refuses_the_whole_set(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cgl"
    bad.write_bytes(b"not a cache, but long enough to be read as one" * 20)
    with pytest.raises(CacheError, match="not a copgate list cache"):
        opened(write(tmp_path, "default", DEFAULT), bad)


def one_by_one(caches: ListSet, name: str) -> ListMatch:
    """What the set must answer, from each cache's own lookup: the most specific
    match wins; at one suffix, in lookup order, white beats black and black merges."""
    best, best_depth = NOT_LISTED, -1
    for cache in caches.caches:
        match = cache.lookup(name)
        if not match.listed or match.match is None:
            continue
        depth = match.match.count(".")
        if depth > best_depth:
            best, best_depth = match, depth
        elif depth == best_depth and not best.white:
            best = match if match.white else _merged(best, match)
    return best


LABELS = sorted({label for entry in DEFAULT + SCHOOL for label in entry.name.split(".")})
NAMES = st.lists(
    st.one_of(
        st.sampled_from(LABELS),
        st.text(alphabet="abcxyz-0é", min_size=0, max_size=6),
    ),
    min_size=1,
    max_size=6,
).map(".".join)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=NAMES)
def test_the_shared_walk_answers_as_each_cache_asked_in_turn(lists: ListSet, name: str) -> None:
    # Names are built from the listed names' labels (so suffixes hit at several
    # depths in one, both or neither cache), plus odd labels: empty, non-ASCII.
    assert lists.lookup(name) == one_by_one(lists, name)


@pytest.mark.parametrize("name", [entry.name for entry in DEFAULT + SCHOOL])
def test_the_shared_walk_answers_every_listed_name_and_child_as_one_by_one(
    lists: ListSet, name: str
) -> None:
    for asked in (name, f"www.{name}", f"a.b.{name}", name.split(".", 1)[-1]):
        assert lists.lookup(asked) == one_by_one(lists, asked)
