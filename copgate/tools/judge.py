"""Judging questions read offline (``copgate inspect --config``) as the daemon would.

Loads a config and its list caches and answers, for a question seen at a
capture's timestamp, the decision the daemon's engine would reach: the
client's group by its address (no interface or MAC is known offline), local
time from the config's POSIX TZ, and no safe-search addresses (offline,
copgate cannot resolve them, so a TLS connection to a search engine is
judged by the group's failure mode; the reason says so).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from copgate.config.load import load_config
from copgate.lists.listset import ListSet
from copgate.policy.decide import decide
from copgate.policy.decision import Decision
from copgate.policy.model import Config
from copgate.policy.tz import parse_tz
from copgate.wire.question import Question


class OfflineJudge:
    """A config and its lists, ready to judge questions."""

    def __init__(self, config: Config, lists: ListSet) -> None:
        self.config = config
        self.lists = lists
        self.tz = parse_tz(config.settings.timezone)

    @classmethod
    def open(cls, path: Path) -> OfflineJudge:
        config = load_config(path)
        return cls(config, ListSet.open(config.settings.lists))

    def __call__(self, question: Question, when: float) -> Decision:
        group = self.config.group_for(None, ipaddress.ip_address(question.client[0]), None)
        plausible = when >= self.lists.built
        return decide(question, group, self.lists, self.tz.local(when), plausible, frozenset())

    def close(self) -> None:
        self.lists.close()
