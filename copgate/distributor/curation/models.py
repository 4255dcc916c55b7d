"""The curation data model: what is reported, proposed, decided and published.

Invariants kept here and by the code that writes these rows:

- What a release publishes is the upstream sources (``Source``), plus the
  active ``Entry`` rows an approved add or recategorise proposal made, minus
  the names an approved remove proposal withdrew. An ``Entry`` names its
  provenance: the ``Source`` it came from or the ``Proposal`` that made it,
  never both.
- A ``Report`` key is unique per gateway (docs/reports.md, "Exactly once");
  web reports get a fresh random key. A report's ``name`` is data: it can hold
  any printable character and is escaped wherever it is shown.
- A ``Gateway`` token is shown once when issued; only its SHA-256 is stored.
- ``AuditLog`` rows are only ever added: who, what, when, before and after.

The field limits are the report contract's (docs/reports.md): names at most
253 characters (RFC 1035 §2.3.4), comments 500, other strings 120.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

MAX_NAME = 253
"""Longest host name in text form (RFC 1035 §2.3.4, less the trailing dot)."""
MAX_COMMENT = 500
"""Longest report comment (docs/reports.md)."""
MAX_FIELD = 120
"""Longest other report string (docs/reports.md)."""
KEY_LENGTH = 32
"""An idempotency key: 32 lower-case hex digits (docs/reports.md)."""
DEFAULT_LIST = "default"
"""The list an entry goes to unless a proposal names another."""
WALLED_GARDEN = "walled_garden"
"""The primary school's white list (lists/templates/primary-walled-garden.toml)."""


_SLUG = re.compile(r"[a-z0-9_-]{1,64}")


def _check_texts(value: Any, field: str) -> None:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError({field: _('a JSON object of texts by language: {"en": "..."}')})


class EntryKind(models.TextChoices):
    """Whether an entry blocks its name or allows it (a white-list entry)."""

    BLOCK = "block", _("block")
    ALLOW = "allow", _("allow")


class Category(models.Model):
    """One category of the catalogue, named and described in several languages."""

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    names = models.JSONField(_("names"), default=dict, blank=True)
    """``{language: name}``: ``{"en": "Gambling", "ru": "Азартные игры"}``."""
    descriptions = models.JSONField(_("descriptions"), default=dict, blank=True)
    """``{language: description}``."""
    default_use = models.CharField(
        _("default use"), max_length=8, choices=EntryKind.choices, default=EntryKind.BLOCK
    )
    """Block for a black category, allow for a white one (UT1 ``global_usage``)."""

    class Meta:
        ordering = ["slug"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.slug

    def clean(self) -> None:
        for field in ("names", "descriptions"):
            _check_texts(getattr(self, field), field)

    def name_in(self, language: str) -> str:
        """The name in ``language``, else English, else the slug."""
        names: dict[str, str] = self.names or {}
        return names.get(language) or names.get("en") or self.slug


class SourceFormat(models.TextChoices):
    """How an upstream source is read (``copgate.lists``)."""

    UT1 = "ut1", _("UT1 archive or directory")
    PLAIN = "plain", _("plain list (one name a line)")
    HOSTS = "hosts", _("hosts file")
    ADBLOCK = "adblock", _("adblock list")


class Source(models.Model):
    """An upstream list: fetched from a URL or uploaded, mapped into our categories."""

    name = models.CharField(_("name"), max_length=MAX_FIELD, unique=True)
    url = models.URLField(_("URL"), max_length=2000, blank=True)
    upload = models.FileField(_("uploaded file"), upload_to="sources/", blank=True)
    format = models.CharField(
        _("format"), max_length=16, choices=SourceFormat.choices, default=SourceFormat.PLAIN
    )
    category_mapping = models.JSONField(_("category mapping"), default=dict, blank=True)
    """``{upstream category: our category slug}``; for a plain list ``{"*": slug}``.
    An upstream category missing from the mapping is left out of the release."""
    white = models.BooleanField(_("white list"), default=False)
    """A plain source of exception (allow) entries."""
    schedule_hours = models.PositiveIntegerField(_("update every (hours)"), default=24)
    """How often the source is fetched again; 0: only by hand."""
    last_fetched = models.DateTimeField(_("last fetched"), null=True, blank=True)
    fetched_path = models.CharField(_("fetched copy"), max_length=500, blank=True)
    """Where the last fetched copy is kept under the data directory."""
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("source")
        verbose_name_plural = _("sources")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """A URL or a file; a mapping of names to category slugs; plain lists map ``*``."""
        if not self.url and not self.upload:
            raise ValidationError(_("give a URL to fetch or upload a file"))
        mapping = self.category_mapping
        if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and _SLUG.fullmatch(v)
            for k, v in mapping.items()
        ):
            raise ValidationError(
                {"category_mapping": _('a JSON object of category names: {"porn": "adult"}')}
            )
        if self.format != SourceFormat.UT1 and not mapping.get("*"):
            raise ValidationError(
                {"category_mapping": _('a plain list needs its category: {"*": "gambling"}')}
            )


class Entry(models.Model):
    """A name in a list, with its category and where it came from."""

    name = models.CharField(_("name"), max_length=MAX_NAME, db_index=True)
    category = models.ForeignKey(
        Category, models.PROTECT, null=True, blank=True, verbose_name=_("category")
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=EntryKind.choices, default=EntryKind.BLOCK
    )
    list = models.CharField(_("list"), max_length=MAX_FIELD, default=DEFAULT_LIST)
    source = models.ForeignKey(
        Source, models.CASCADE, null=True, blank=True, verbose_name=_("source")
    )
    proposal = models.ForeignKey(
        "Proposal",
        models.PROTECT,
        null=True,
        blank=True,
        related_name="entries",
        verbose_name=_("proposal"),
    )
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        constraints = [
            models.CheckConstraint(
                condition=~(models.Q(source__isnull=False) & models.Q(proposal__isnull=False)),
                name="entry_one_provenance",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind}, {self.list})"


class ReportKind(models.TextChoices):
    """The two reports of a block page (docs/reports.md)."""

    MISTAKE = "mistake", _("wrongly blocked")
    SITE = "site", _("should be blocked")


class ReportState(models.TextChoices):
    """Where a report stands in the review."""

    OPEN = "open", _("open")
    PROPOSED = "proposed", _("proposed")
    CLOSED = "closed", _("closed")


class Gateway(models.Model):
    """A gateway allowed to send reports, known by the hash of its token."""

    name = models.CharField(_("name"), max_length=MAX_FIELD)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    """SHA-256 of the token, hex; the token itself is shown once and never stored."""
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="gateways",
        verbose_name=_("owner"),
    )
    active = models.BooleanField(_("active"), default=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen = models.DateTimeField(_("last report"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")

    def __str__(self) -> str:
        return self.name


class Report(models.Model):
    """One report from a gateway's block page, a signed-in user or an anonymous visitor."""

    kind = models.CharField(_("kind"), max_length=8, choices=ReportKind.choices)
    name = models.CharField(_("name"), max_length=MAX_NAME, db_index=True)
    category = models.CharField(_("category"), max_length=MAX_FIELD, blank=True)
    comment = models.TextField(_("comment"), max_length=MAX_COMMENT, blank=True)
    group = models.CharField(_("group"), max_length=MAX_FIELD, blank=True)
    list = models.CharField(_("list"), max_length=MAX_FIELD, blank=True)
    reason = models.CharField(_("reason"), max_length=MAX_FIELD, blank=True)
    created = models.DateTimeField(_("created"))
    """When the reporter sent it (the gateway's clock, or the service's for web reports)."""
    received = models.DateTimeField(_("received"), auto_now_add=True)
    key = models.CharField(_("idempotency key"), max_length=KEY_LENGTH)
    gateway = models.ForeignKey(
        Gateway,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("gateway"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
        verbose_name=_("user"),
    )
    anonymous = models.BooleanField(_("anonymous"), default=False)
    state = models.CharField(
        _("state"), max_length=8, choices=ReportState.choices, default=ReportState.OPEN
    )

    class Meta:
        ordering = ["-received"]
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        constraints = [
            models.UniqueConstraint(fields=["gateway", "key"], name="report_key_per_gateway"),
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(gateway__isnull=True), name="report_web_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class ProposalAction(models.TextChoices):
    """What a proposal does to the published lists."""

    ADD = "add", _("add")
    REMOVE = "remove", _("remove")
    RECATEGORISE = "recategorise", _("recategorise")


class ProposalState(models.TextChoices):
    """A proposal is open until an administrator decides it."""

    OPEN = "open", _("open")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")


class Proposal(models.Model):
    """An expert's proposed change, decided by an administrator."""

    action = models.CharField(_("action"), max_length=16, choices=ProposalAction.choices)
    name = models.CharField(_("name"), max_length=MAX_NAME, db_index=True)
    category = models.ForeignKey(
        Category, models.PROTECT, null=True, blank=True, verbose_name=_("category")
    )
    kind = models.CharField(
        _("kind"), max_length=8, choices=EntryKind.choices, default=EntryKind.BLOCK
    )
    """Block, or allow for a white list such as the walled garden."""
    list = models.CharField(_("list"), max_length=MAX_FIELD, default=DEFAULT_LIST)
    note = models.TextField(_("note"), max_length=2000, blank=True)
    evidence = models.JSONField(_("evidence"), default=dict, blank=True)
    """What the expert saw: report counts, the lists and categories already carrying it."""
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        related_name="proposals",
        verbose_name=_("author"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    state = models.CharField(
        _("state"), max_length=8, choices=ProposalState.choices, default=ProposalState.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="decisions",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), max_length=2000, blank=True)
    reports = models.ManyToManyField(
        Report, blank=True, related_name="proposals", verbose_name=_("reports")
    )
    release = models.ForeignKey(
        "Release",
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="proposals",
        verbose_name=_("first published in"),
    )

    class Meta:
        ordering = ["-created"]
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.name}"


class Template(models.Model):
    """A starting policy for a country and language: which categories to block."""

    slug = models.SlugField(_("slug"), max_length=64)
    country = models.CharField(_("country"), max_length=2, blank=True)
    """ISO 3166-1 alpha-2, upper case; empty for every country."""
    language = models.CharField(_("language"), max_length=8)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    """The category slugs the template blocks."""
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["country", "language", "slug"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")
        constraints = [
            models.UniqueConstraint(
                fields=["slug", "country", "language"], name="template_per_country_language"
            )
        ]

    def __str__(self) -> str:
        return f"{self.slug} ({self.country or '*'}/{self.language})"


class Release(models.Model):
    """A release the service built into the tree."""

    number = models.PositiveIntegerField(_("number"), unique=True)
    created = models.DateTimeField(_("created"))
    tree_path = models.CharField(_("tree"), max_length=500)
    signed = models.BooleanField(_("signed"), default=False)
    published = models.BooleanField(_("published"), default=False)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="releases",
        verbose_name=_("published by"),
    )
    names = models.PositiveIntegerField(_("names"), default=0)
    size = models.PositiveIntegerField(_("size (bytes)"), default=0)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("release")
        verbose_name_plural = _("releases")

    def __str__(self) -> str:
        return str(self.number)


class PublishRequest(models.Model):
    """A build asked for a time; ``copgate dist publish-due`` (cron) carries it out."""

    due = models.DateTimeField(_("due"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="publish_requests",
        verbose_name=_("requested by"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    done = models.DateTimeField(_("done"), null=True, blank=True)
    release = models.ForeignKey(
        Release, models.SET_NULL, null=True, blank=True, verbose_name=_("release")
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["due"]
        verbose_name = _("scheduled publication")
        verbose_name_plural = _("scheduled publications")

    def __str__(self) -> str:
        return f"{self.due.isoformat()}"


class AuditLog(models.Model):
    """One action: who, what, on which object, before and after. Rows are only added."""

    who = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("who"),
    )
    gateway = models.ForeignKey(
        Gateway, models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("gateway")
    )
    """For an action taken with a gateway token rather than a user."""
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    when = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-when", "-id"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.when.isoformat()} {self.action} {self.object_type} {self.object_id}"


SECRET_FIELDS = frozenset({"password", "token_hash"})
"""Never copied into the audit log: a password hash or token hash is a secret to crack."""


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The concrete fields of a row as JSON-ready values, for ``AuditLog`` before/after.

    Secrets (``SECRET_FIELDS``) appear as ``"(secret)"``: the log says which
    row changed, never a hash someone could try to crack.
    """
    values: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            values[field.attname] = "(secret)"
            continue
        value = field.value_from_object(instance)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif isinstance(value, models.fields.files.FieldFile):
            value = value.name or ""
        values[field.attname] = value
    return values
