"""The pages' forms for channels, alert rules and pairs.

A form here only reads what a browser sends (text, checkboxes, selects) into the values the
API takes, and then hands them to the API's own serializers, whose errors land next to the
fields they name: the rules (a channel URL passing the outbound guard, a factor above 1, a
window from a minute to a day, metrics or a kind, only one's own channels) live in one place,
`tracker.api.alert_serializers`, for the API and the pages alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from rest_framework import serializers

from tracker.alerts.models import AlertRule, Channel, ChannelKind, Direction
from tracker.api.alert_serializers import AlertRuleSerializer, ChannelSerializer
from tracker.api.pairs import PairCreateSerializer
from tracker.markets.models import MetricKind

# Which destination fields each channel kind uses; the others are emptied when it is saved.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    ChannelKind.WEBHOOK: ("url", "secret"),
    ChannelKind.SLACK: ("url",),
    ChannelKind.PAGERDUTY: ("routing_key",),
    ChannelKind.EMAIL: ("address",),
}
DESTINATION = ("url", "address", "routing_key")


def _number(text: str, kind: type[int] | type[float]) -> Any:
    """`text` as a number when it reads as one; else the text itself, for the serializer to
    refuse with its own message."""
    try:
        return kind(text)
    except (ValueError, OverflowError):
        return text


def _ids(values: Iterable[str]) -> list[Any]:
    return [_number(value, int) if value.isascii() else value for value in values]


class IdsField(forms.MultipleChoiceField):
    """Ids picked from a list; whether each exists (and is one's own) is the serializer's
    to say, so an id that vanished since the page was drawn gets its message, not a generic
    one."""

    def validate(self, value: Any) -> None:
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class SerializerForm(forms.Form):
    """A form whose values are checked by an API serializer; `validated` holds its result."""

    validated: dict[str, Any]

    def _run(self, serializer: serializers.Serializer[Any]) -> None:
        if serializer.is_valid():
            self.validated = dict(serializer.validated_data)
            return
        self._errors_from(serializer.errors)

    def _errors_from(self, errors: Mapping[str, Any]) -> None:
        for name, messages in errors.items():
            for message in _flat(messages):
                if name in self.fields:
                    self.add_error(name, message)
                else:
                    label = "" if name == "non_field_errors" else f"{name}: "
                    self.add_error(None, f"{label}{message}")


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, Mapping):
        return [text for value in messages.values() for text in _flat(value)]
    if isinstance(messages, list | tuple):
        return [text for value in messages for text in _flat(value)]
    return [str(messages)]


class ChannelForm(SerializerForm):
    """A channel: every destination field is drawn; the kind says which are used. The secret
    is write-only: never drawn back, kept when left empty, removed on request."""

    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    kind = forms.CharField(required=False, widget=forms.Select(choices=ChannelKind.choices))
    url = forms.CharField(
        label="URL",
        required=False,
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.example.org/tracker"}),
        help_text="An https address on the public internet.",
    )
    secret = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Signs each body (X-Tracker-Signature); optional.",
    )
    secret_clear = forms.BooleanField(label="Remove the secret", required=False)
    address = forms.CharField(
        label="E-mail address",
        required=False,
        widget=forms.EmailInput(attrs={"spellcheck": "false"}),
    )
    routing_key = forms.CharField(
        label="Routing key",
        required=False,
        help_text="The Events API v2 integration key of the PagerDuty service.",
    )

    def __init__(self, *args: Any, instance: Channel | None = None, **kwargs: Any) -> None:
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(instance, name) for name in ("name", "kind", *DESTINATION)
            }
        super().__init__(*args, **kwargs)
        if instance is not None and instance.secret:
            self.fields["secret"].help_text = "A secret is set; leave empty to keep it."
        else:
            del self.fields["secret_clear"]

    @property
    def secret_set(self) -> bool:
        return bool(self.instance is not None and self.instance.secret)

    def rows(self) -> list[tuple[forms.BoundField, str]]:
        """Each field with the kinds that use it (empty: every kind), for the page's script."""
        used: dict[str, list[str]] = {}
        for kind, names in KIND_FIELDS.items():
            for name in names:
                used.setdefault(name, []).append(kind)
        used["secret_clear"] = used["secret"]
        return [(self[name], " ".join(used.get(name, []))) for name in self.fields]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        data = self._wanted()
        if self.instance is None:
            self._run(ChannelSerializer(data=data))
        else:
            self._run(ChannelSerializer(self.instance, data=data, partial=True))
        return cleaned

    def _wanted(self) -> dict[str, Any]:
        """What to save: on a new channel everything, on an existing one what changed (a
        destination rewritten with the same value must not clear its broken mark)."""
        given = self.cleaned_data
        kind = given["kind"]
        used = KIND_FIELDS.get(kind, DESTINATION)
        data = {"name": given["name"], "kind": kind}
        data |= {name: given[name] if name in used else "" for name in DESTINATION}
        secret = given["secret"] if "secret" in used else ""
        if self.instance is None:
            return data | {"secret": secret}
        changed = {
            name: value for name, value in data.items() if getattr(self.instance, name) != value
        }
        if "secret" not in used or given.get("secret_clear"):
            secret = ""
        elif not secret:
            return changed  # left empty: kept
        if secret != self.instance.secret:
            changed["secret"] = secret
        return changed


class RuleForm(SerializerForm):
    """An alert rule: what it watches (a kind, or metrics), how far beyond the average, for how
    long a window, and which of the owner's channels hear of it."""

    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off"}))
    kind = forms.CharField(
        label="Watch every metric of a kind",
        required=False,
        widget=forms.Select(choices=[("", "no: the metrics below"), *MetricKind.choices]),
        help_text="Pairs added later included.",
    )
    metrics = IdsField(
        label="Or these metrics",
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text="Pick one or more (Ctrl or ⌘ for several).",
    )
    direction = forms.CharField(
        required=False,
        widget=forms.Select(
            choices=[
                (Direction.ABOVE, "above: value over factor x average"),
                (Direction.BELOW, "below: value under average / factor"),
            ]
        ),
    )
    factor = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}), initial="3"
    )
    window = forms.CharField(
        required=False,
        initial="1h",
        help_text="The span the average is taken over: 30m, 1h, 1d.",
    )
    cooldown = forms.CharField(
        required=False,
        help_text="Least time between the starts of two alerts; empty: the window.",
    )
    min_samples = forms.CharField(
        label="Minimum samples",
        required=False,
        initial="10",
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
        help_text="Records in the window before it may fire.",
    )
    muted_until = forms.CharField(
        label="Muted until (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="No alerts before then; empty: not muted.",
    )
    channels = IdsField(required=False, widget=forms.CheckboxSelectMultiple)
    notify_resolved = forms.BooleanField(
        label="Also tell when it is over", required=False, initial=True
    )
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(
        self,
        *args: Any,
        owner: Any,
        metric_choices: list[tuple[str, list[tuple[int, str]]]],
        channel_choices: list[tuple[int, str]],
        instance: AlertRule | None = None,
        **kwargs: Any,
    ) -> None:
        self.owner, self.instance = owner, instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = _rule_initial(instance)
        super().__init__(*args, **kwargs)
        self.fields["metrics"].choices = metric_choices  # type: ignore[attr-defined]
        self.fields["channels"].choices = channel_choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        given = self.cleaned_data
        data: dict[str, Any] = {
            "name": given["name"],
            "kind": given["kind"],
            "metrics": _ids(given["metrics"]),
            "channels": _ids(given["channels"]),
            "direction": given["direction"],
            "notify_resolved": given["notify_resolved"],
            "enabled": given["enabled"],
            "cooldown": given["cooldown"] or None,
            "muted_until": given["muted_until"] or None,
        }
        if given["factor"]:
            data["factor"] = _number(given["factor"], float)
        if given["window"]:
            data["window"] = given["window"]
        if given["min_samples"]:
            data["min_samples"] = _number(given["min_samples"], int)
        context = {"owner": self.owner}
        self._run(AlertRuleSerializer(self.instance, data=data, context=context))
        return cleaned


def _rule_initial(rule: AlertRule) -> dict[str, Any]:
    shown = AlertRuleSerializer(rule).data
    muted = rule.muted_until
    return {
        "name": rule.name,
        "kind": rule.kind,
        "metrics": [str(metric.id) for metric in rule.metrics.all()],
        "channels": [str(channel.id) for channel in rule.channels.all()],
        "direction": rule.direction,
        "factor": f"{rule.factor:g}",
        "window": shown["window"],
        "cooldown": shown["cooldown"] or "",
        "min_samples": str(rule.min_samples),
        "muted_until": muted.strftime("%Y-%m-%dT%H:%M") if muted else "",
        "notify_resolved": rule.notify_resolved,
        "enabled": rule.enabled,
    }


class PairForm(SerializerForm):
    """A pair to add: an exchange and a symbol, checked as the API checks them; whether the
    exchange lists the symbol is the pair service's to say."""

    exchange = forms.CharField(required=False, widget=forms.HiddenInput)
    symbol = forms.CharField(
        required=False,
        widget=forms.TextInput(
            attrs={"list": "symbols", "autocomplete": "off", "placeholder": "ETH/USD"}
        ),
        help_text="The unified symbol, BASE/QUOTE.",
    )

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if not self.errors:
            self._run(PairCreateSerializer(data=dict(self.cleaned_data)))
        return cleaned
