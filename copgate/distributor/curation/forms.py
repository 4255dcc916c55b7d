"""The forms of the pages; each validates what it takes and says what is wrong."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from copgate.distributor.curation.models import (
    DEFAULT_LIST,
    MAX_COMMENT,
    MAX_FIELD,
    WALLED_GARDEN,
    Category,
    EntryKind,
    ProposalAction,
    ReportKind,
)
from copgate.distributor.curation.names import read_entry_name, read_report_name

LIST_CHOICES = [
    (DEFAULT_LIST, _("default (the main lists)")),
    (WALLED_GARDEN, _("walled garden (primary school white list)")),
]


class CategoryChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    """A category shown by its slug and its name in the page's language."""

    def label_from_instance(self, obj: Any) -> str:
        from django.utils.translation import get_language

        return f"{obj.slug}: {obj.name_in(get_language() or 'en')}"


class ReportForm(forms.Form):
    """A web report: should be blocked, or wrongly blocked."""

    kind = forms.ChoiceField(label=_("What is wrong"), choices=ReportKind.choices)
    name = forms.CharField(label=_("Site"), max_length=2000, help_text=_("a name or an address"))
    category = CategoryChoice(
        label=_("Suggested category"), queryset=Category.objects.all(), required=False
    )
    comment = forms.CharField(
        label=_("Comment"), max_length=MAX_COMMENT, required=False, widget=forms.Textarea
    )

    def clean_name(self) -> str:
        return read_report_name(self.cleaned_data["name"])


class ProposalForm(forms.Form):
    """An expert's proposal: add, remove or recategorise a name in a list."""

    action = forms.ChoiceField(label=_("Action"), choices=ProposalAction.choices)
    name = forms.CharField(label=_("Name"), max_length=2000)
    category = CategoryChoice(label=_("Category"), queryset=Category.objects.all(), required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=EntryKind.choices, initial=EntryKind.BLOCK)
    list = forms.ChoiceField(label=_("List"), choices=LIST_CHOICES, initial=DEFAULT_LIST)
    note = forms.CharField(label=_("Note"), max_length=2000, required=False, widget=forms.Textarea)

    def clean_name(self) -> str:
        return read_entry_name(self.cleaned_data["name"])


class DecisionForm(forms.Form):
    """An administrator's decision on a proposal."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[("approve", _("approve")), ("reject", _("reject"))],
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class ScheduleForm(forms.Form):
    """A publication at a set time (carried out by ``copgate dist publish-due``)."""

    due = forms.DateTimeField(
        label=_("Publish at (UTC)"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )


class GatewayForm(forms.Form):
    """A new gateway token."""

    name = forms.CharField(label=_("Gateway name"), max_length=MAX_FIELD)
    owner = forms.ModelChoiceField(
        label=_("Owner"), queryset=get_user_model().objects.all(), required=False
    )
