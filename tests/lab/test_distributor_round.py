"""The full round of issue 14 over real HTTP: a child's report becomes a signed release that blocks.

In the internet namespace run the distributor's service (``copgate dist
run``, waitress, SQLite in the lab's directory, a release key on the same
host: a small site) and nginx serving the release tree it publishes. The
gateway's config names the service's intake (``reports_url``,
``reports_token``: a gateway token the service issued) and the tree
(``[update]``, trusting the root key that signed the tree's key set).

1. The service publishes release 1 (empty); the gateway starts on it, and
   ``games.example`` resolves for the teen.
2. The teen reports the site on the block page ("report a site"); the
   gateway forwards it, the service stores it as the gateway's.
3. An expert sees it in the review queue and proposes it as adult (API,
   the expert's own token), an administrator approves it and publishes
   release 2 (API, the administrator's token): signed on the service's host.
4. The gateway's next poll installs release 2 and the teen's question for
   ``games.example`` is blocked; the report is closed, and the release
   names the proposal in its provenance.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from copgate.lab import clients, plan, servers
from copgate.lab.clients import DnsResult
from copgate.lab.gateway import compile_lab_lists, write_config
from copgate.lab.processes import LabProcess
from copgate.lab.servers import listening
from copgate.lab.topology import Lab
from tests.lab.blockpage_kit import post, token
from tests.lab.daemon_lab import serving

pytestmark = pytest.mark.lab

SERVER = plan.host("allowed.example")
"""The service and the tree's nginx listen on this internet-side address."""
SERVICE_PORT = 8000
TREE_PORT = 8080
INTERVAL = 10
"""Seconds between the gateway's polls of the tree."""
SITE = "games.example"
"""A lab host the teen may reach until a release lists it as adult."""
SOA_OWNER = "copgate.invalid."
WAIT = 30.0


@dataclass(frozen=True)
class Service:
    """The running service: where it answers, its tree and keys, and the tokens it issued."""

    url: str
    tree: Path
    keys: Path
    tokens: dict[str, str]
    """``gateway``, ``expert``, ``administrator`` -> bearer token."""
    process: LabProcess


def dist(lab: Lab, env: dict[str, str], *args: str | Path) -> str:
    argv = [sys.executable, "-m", "copgate", "dist", *map(str, args)]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


SETUP = """
import json, django
django.setup()
from django.contrib.auth.models import Group, User
from copgate.distributor.api.models import ApiToken
from copgate.distributor.curation.gateways import issue_token
from copgate.distributor.curation.models import Category
names = {"en": "Adult", "ru": "Для взрослых"}
Category.objects.get_or_create(slug="adult", defaults={"names": names})
tokens = {}
for name, role in (("eli", "expert"), ("ada", "administrator")):
    user = User.objects.create_user(name, password=None)
    user.groups.add(Group.objects.get(name=role))
    tokens[role] = ApiToken.issue(user, "lab round")[1]
ada = User.objects.get(username="ada")
tokens["gateway"] = issue_token(ada, "lab gateway", owner=ada)[1]
print(json.dumps(tokens))
"""


def service_env(lab: Lab, keys: Path) -> dict[str, str]:
    data = lab.workdir / "service"
    return {
        **lab.python_env(),
        "DJANGO_SETTINGS_MODULE": "copgate.distributor.settings",
        "COPGATE_DATA_DIR": str(data),
        "COPGATE_TREE_DIR": str(data / "tree"),
        "COPGATE_SIGNING_KEY": str(keys / "release.sec"),
        "COPGATE_SECRET_KEY": secrets.token_hex(32),
        "COPGATE_ALLOWED_HOSTS": str(SERVER.v4),
    }


def call(
    lab: Lab, service_url: str, method: str, path: str, token: str, body: object = None
) -> tuple[int | None, Any]:
    """One API call with curl from the internet namespace (an expert's script)."""
    extra = ["-X", method, "-H", f"Authorization: Bearer {token}"]
    if body is not None:
        extra += ["-H", "Content-Type: application/json", "--data-binary", json.dumps(body)]
    result = clients.curl(lab.internet, f"{service_url}{path}", extra=extra, timeout=60.0)
    return result.status, json.loads(result.body) if result.body else None


@pytest.fixture(scope="module")
def service(lab: Lab) -> Iterator[Service]:
    """The service, migrated, with users, tokens and release 1; and nginx serving its tree."""
    keys = lab.workdir / "keys"
    keys.mkdir()
    env = service_env(lab, keys)
    tree = Path(env["COPGATE_TREE_DIR"])
    tree.mkdir(parents=True)
    dist(lab, env, "keygen", "--root", "-o", keys / "root")
    dist(lab, env, "keygen", "-o", keys / "release")
    dist(lab, env, "sign", "--keyset", "--key", keys / "root.sec", "--add", keys / "release.pub",
         tree / "keyset.json")  # fmt: skip
    dist(lab, env, "migrate")
    setup = subprocess.run(
        [sys.executable, "-c", SETUP], env=env, capture_output=True, text=True, check=False
    )
    assert setup.returncode == 0, setup.stderr[-3000:]
    tokens: dict[str, str] = json.loads(setup.stdout)
    argv = [sys.executable, "-m", "copgate", "dist", "run", "--bind", str(SERVER.v4)]
    argv += ["--port", str(SERVICE_PORT), "--threads", "4"]
    process = lab.spawn(
        lab.internet,
        argv,
        name="distributor",
        env=env,
        ready=lambda: listening(lab.internet, "tcp", SERVICE_PORT),
        timeout=30.0,
    )
    (lab.workdir / "nginx-round").mkdir()
    config = lab.workdir / "nginx-round.conf"
    config.write_text(servers.static_tree_config(tree, lab.workdir, TREE_PORT, "round"))
    nginx_argv = ["nginx", "-p", f"{lab.workdir}/nginx-round/", "-e", "stderr", "-c", str(config)]
    nginx = lab.spawn(
        lab.internet,
        nginx_argv,
        name="nginx-round",
        ready=lambda: listening(lab.internet, "tcp", TREE_PORT),
    )
    try:
        yield Service(f"http://{SERVER.v4}:{SERVICE_PORT}", tree, keys, tokens, process)
    finally:
        lab.stop(nginx)
        lab.stop(process)


def gateway_config(lab: Lab, service: Service) -> tuple[Path, tuple[Path, Path]]:
    """The lab's config with the service's intake and tree; and its two lists."""
    base = lab.workdir / "gw"
    _default, lab_list = compile_lab_lists(lab.workdir)
    lists = (base / "ram" / "current" / "lists.cache", lab_list)
    root = (service.keys / "root.pub").read_text().splitlines()[1]
    update = f"""
[update]
url = "http://{SERVER.v4}:{TREE_PORT}"
root_keys = ["{root}"]
interval = {INTERVAL}
jitter = 0
ram_dir = "{base}/ram"
flash_dir = "{base}/flash"
builtin_dir = "{base}/builtin"
"""
    path = write_config(lab.workdir, lists, update)
    general = (
        f'reports_url = "{service.url}/api/v1/reports"\n'
        f'reports_token = "{service.tokens["gateway"]}"\n'
    )
    path.write_text(path.read_text().replace("[general]\n", f"[general]\n{general}", 1))
    return path, lists


def builtin_release(tree: Path, number: int, directory: Path) -> None:
    """The gateway's built-in lists: release ``number`` as published, signed."""
    directory.mkdir(parents=True)
    shutil.copyfile(tree / "releases" / str(number) / "lists.cache", directory / "lists.cache")
    for name in ("release.json", "release.json.sig", "keyset.json", "keyset.json.sig"):
        shutil.copyfile(tree / name, directory / name)


def ask(lab: Lab, name: str) -> DnsResult:
    return clients.dig(lab.clients["teen"], name, server=plan.LAN.router_v4, timeout=2.0)


def blocked(result: DnsResult) -> bool:
    return result.status == "NXDOMAIN" and any(
        record.rtype == "SOA" and record.data.startswith(SOA_OWNER) for record in result.authority
    )


def until(what: str, check: Any, timeout: float = WAIT) -> Any:
    """``check()``'s first truthy value, polled; AssertionError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_reported_site_is_proposed_approved_published_and_blocked(
    lab: Lab, service: Service
) -> None:
    expert, admin = service.tokens["expert"], service.tokens["administrator"]
    status, first = call(lab, service.url, "POST", "/api/v1/releases", admin, {})
    assert (status, first["number"], first["signed"], first["published"]) == (201, 1, True, True)
    builtin_release(service.tree, 1, lab.workdir / "gw" / "builtin")
    config, lists = gateway_config(lab, service)
    teen = lab.clients["teen"]

    with serving(lab, config, lists) as gateway:
        gateway.wait_log(r"update: no news: release 1 is current", 0, timeout=INTERVAL * 3)
        assert ask(lab, SITE).status == "NOERROR"

        fields = {
            "csrf": token(teen),
            "kind": "site",
            "name": f"https://{SITE}/",
            "comment": "<b>games</b> in class",
        }
        assert post(teen, fields) == 200
        gateway.wait_log(r"report 1 \(site games\.example\) acknowledged \(202\)", 0)

        def queued() -> Any:
            status, queue = call(lab, service.url, "GET", "/api/v1/queue", expert)
            assert status == 200, queue
            return [n for n in queue["names"] if n["name"] == SITE]

        (entry,) = until("the report in the review queue", queued)
        assert (entry["reports"], entry["gateways"], entry["kinds"]["site"]) == (1, 1, 1)
        (report_id,) = entry["report_ids"]
        status, stored = call(lab, service.url, "GET", f"/api/v1/reports/{report_id}", expert)
        assert (status, stored["origin"], stored["group"]) == (200, "gateway", "teens")
        assert stored["comment"] == fields["comment"]  # markup kept as data
        note = "a games site the teens should not reach in class"
        body = {"action": "add", "name": SITE, "category": "adult", "note": note}
        status, proposal = call(lab, service.url, "POST", "/api/v1/proposals", expert, body)
        assert status == 201, proposal
        assert proposal["reports"] == entry["report_ids"] and proposal["evidence"]["gateways"] == 1

        refused, _ = call(lab, service.url, "POST", "/api/v1/releases", expert, {})
        assert refused == 403  # an expert cannot publish
        pk = proposal["id"]
        status, approved = call(
            lab, service.url, "POST", f"/api/v1/proposals/{pk}/approve", admin, {}
        )
        assert (status, approved["state"], approved["decided_by"]) == (200, "approved", "ada")
        status, second = call(lab, service.url, "POST", "/api/v1/releases", admin, {})
        assert (status, second["number"], second["signed"], second["published"]) == (
            201,
            2,
            True,
            True,
        )
        since_publish = time.monotonic()

        until("the teen's question blocked", lambda: blocked(ask(lab, SITE)), INTERVAL * 3 + 10)
        assert time.monotonic() - since_publish < INTERVAL * 3 + 10
        assert "update: installed release 2" in gateway.log()

    provenance = json.loads((service.tree / "releases" / "2" / "provenance.json").read_text())
    assert str(pk) in json.dumps(provenance) and SITE in json.dumps(provenance)
    status, after = call(lab, service.url, "GET", f"/api/v1/proposals/{pk}", expert)
    assert (status, after["release"]) == (200, 2)
    status, queue = call(lab, service.url, "GET", "/api/v1/queue", expert)
    assert status == 200 and all(n["name"] != SITE for n in queue["names"])
