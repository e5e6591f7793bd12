"""The protection group's action forms. Each calls the engine through the api module; a
refusal keeps the form open with the engine's message; a long operation starts, its id is
named in the success message, and the page goes to the group's detail."""

from django import forms as django_forms
from django.contrib import messages
from django.utils.translation import gettext_lazy as _
from horizon import forms

from protector_dashboard import common
from protector_dashboard.api import protector as api


class GroupForm(forms.SelfHandlingForm):
    """A form about one group: ``group_id`` comes from the URL (the view's initial data)."""

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.group_id = self.initial["group_id"]


class CandidateSelect(django_forms.CheckboxSelectMultiple):
    """Checkboxes of the candidates; an ineligible one is shown disabled."""

    def __init__(self, *args, disabled=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled = set(disabled)

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        if str(value) in self.disabled:
            option["attrs"]["disabled"] = "disabled"
        return option


class AddMembersForm(GroupForm):
    instances = django_forms.MultipleChoiceField(
        label=_("Instances"),
        required=True,
        help_text=_(
            "This project's instances on the group's current primary site. An "
            "instance that cannot be protected is shown with the engine's reason."
        ),
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        candidates = kwargs.get("initial", {}).get("candidates") or []
        self.candidates = {str(c.instance_id): c for c in candidates}
        choices = []
        ineligible = []
        for c in candidates:
            label = f"{c.name} ({c.instance_id}, {c.status})"
            if not c.eligible:
                label = f"{label}: not eligible: {c.reason}"
                ineligible.append(str(c.instance_id))
            choices.append((str(c.instance_id), label))
        field = self.fields["instances"]
        field.choices = choices
        field.widget = CandidateSelect(choices=choices, disabled=ineligible)

    def clean_instances(self):
        chosen = self.cleaned_data["instances"]
        refused = [self.candidates[i] for i in chosen if not self.candidates[i].eligible]
        if refused:
            raise django_forms.ValidationError([f"{c.name}: {c.reason}" for c in refused])
        return chosen

    def handle(self, request, data):
        added = []
        failed = 0
        for instance_id in data["instances"]:
            name = self.candidates[instance_id].name
            try:
                api.member_add(request, self.group_id, instance_id)
                added.append(name)
            except api.ProtectorError as error:
                # One message per instance, in the engine's words.
                failed += 1
                messages.error(
                    request,
                    _("%(name)s was not added: %(error)s") % {"name": name, "error": str(error)},
                )
        if added:
            messages.success(request, _("Added to the group: %s") % ", ".join(added))
        return bool(added)


class RemoveMembersForm(GroupForm):
    members = django_forms.MultipleChoiceField(
        label=_("Members"),
        widget=django_forms.CheckboxSelectMultiple,
        help_text=_("The VMs keep running; they are no longer protected."),
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        members = kwargs.get("initial", {}).get("members") or []
        self.names = {str(m.id): m.instance_name for m in members}
        self.fields["members"].choices = [
            (str(m.id), f"{m.instance_name} ({m.instance_id})") for m in members
        ]

    def handle(self, request, data):
        removed = []
        for member_id in data["members"]:
            name = self.names.get(member_id, member_id)
            try:
                api.member_remove(request, self.group_id, member_id)
                removed.append(name)
            except api.ProtectorError as error:
                messages.error(
                    request,
                    _("%(name)s was not removed: %(error)s") % {"name": name, "error": str(error)},
                )
        if removed:
            messages.success(request, _("Removed from the group: %s") % ", ".join(removed))
        return bool(removed)


class CreatePolicyForm(GroupForm):
    pure_pg_name = django_forms.CharField(
        label=_("FlashArray protection group"),
        max_length=63,
        help_text=_(
            "The name of the protection group (or pod, for sync replication) on the arrays."
        ),
    )
    primary_array_url = django_forms.CharField(label=_("Primary array URL"), max_length=255)
    primary_array_token = django_forms.CharField(
        label=_("Primary array API token"), widget=django_forms.PasswordInput(render_value=False)
    )
    primary_array_ca_file = django_forms.CharField(
        label=_("Primary array CA file"),
        max_length=4096,
        required=False,
        help_text=_(
            "A PEM bundle on the Horizon host to verify the array's certificate with, when a "
            "private CA signed it; empty: the system's CAs."
        ),
    )
    secondary_array_url = django_forms.CharField(label=_("Secondary array URL"), max_length=255)
    secondary_array_token = django_forms.CharField(
        label=_("Secondary array API token"), widget=django_forms.PasswordInput(render_value=False)
    )
    secondary_array_ca_file = django_forms.CharField(
        label=_("Secondary array CA file"),
        max_length=4096,
        required=False,
        help_text=_("As for the primary array."),
    )
    allow_insecure_http = django_forms.BooleanField(
        label=_("Allow plain HTTP to the arrays"), required=False, initial=False
    )
    replication_interval = django_forms.IntegerField(
        label=_("Replication interval (seconds)"), min_value=1, initial=300
    )
    rpo_minutes = django_forms.IntegerField(label=_("RPO (minutes)"), min_value=1, initial=15)

    def handle(self, request, data):
        try:
            api.policy_create(
                request,
                self.group_id,
                pure_pg_name=data["pure_pg_name"],
                primary_array_url=data["primary_array_url"],
                primary_array_token=data["primary_array_token"],
                secondary_array_url=data["secondary_array_url"],
                secondary_array_token=data["secondary_array_token"],
                primary_array_ca_file=data["primary_array_ca_file"] or None,
                secondary_array_ca_file=data["secondary_array_ca_file"] or None,
                allow_insecure_http=data["allow_insecure_http"],
                replication_interval=data["replication_interval"],
                rpo_minutes=data["rpo_minutes"],
            )
        except api.ProtectorError:
            common.engine_error(request)
            return False
        messages.success(request, _("Replication policy %s created.") % data["pure_pg_name"])
        return True


def mapping_text(names: dict[str, str]) -> str:
    """Mappings as the form shows them: one ``source=target`` a line."""
    return "\n".join(f"{source}={target}" for source, target in sorted(names.items()))


def parse_mappings(text: str, what: str) -> dict[str, str]:
    names = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        source, sep, target = line.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise django_forms.ValidationError(
                _("%(what)s, line %(n)d: %(line)r is not source=target (one mapping a line).")
                % {"what": what, "n": number, "line": line}
            )
        names[source.strip()] = target.strip()
    return names


class SetMappingsForm(GroupForm):
    """The names a failover uses on the other site for the group's networks, flavors and
    security groups (those that exist there by the same name need none)."""

    networks = django_forms.CharField(
        label=_("Networks"),
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 3}),
        help_text=_("One source=target a line, e.g. net-primary-web=net-secondary-web."),
    )
    flavors = django_forms.CharField(
        label=_("Flavors"),
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 2}),
        help_text=_("One source=target a line, e.g. m1.large=m2.large."),
    )
    security_groups = django_forms.CharField(
        label=_("Security groups"),
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 2}),
        help_text=_("One source=target a line."),
    )
    replace = django_forms.BooleanField(
        label=_("Replace the stored mappings"),
        required=False,
        initial=False,
        help_text=_("Unchecked: these are merged over the stored ones."),
    )

    def clean_networks(self):
        return parse_mappings(self.cleaned_data["networks"], _("Networks"))

    def clean_flavors(self):
        return parse_mappings(self.cleaned_data["flavors"], _("Flavors"))

    def clean_security_groups(self):
        return parse_mappings(self.cleaned_data["security_groups"], _("Security groups"))

    def handle(self, request, data):
        try:
            stored = api.set_mappings(
                request,
                self.group_id,
                networks=data["networks"],
                flavors=data["flavors"],
                security_groups=data["security_groups"],
                replace=data["replace"],
            )
        except api.ProtectorError:
            common.engine_error(request)
            return False
        messages.success(
            request,
            _("Mappings from %(from)s to %(to)s stored.")
            % {"from": stored.from_site, "to": stored.to_site},
        )
        return True


class FailoverForm(GroupForm):
    """Planned failover: the plan is shown; ``confirm`` starts it."""

    confirm = django_forms.BooleanField(
        label=_("Fail the group over to its other site"), required=True
    )

    def handle(self, request, data):
        try:
            handle = api.failover(request, self.group_id, unplanned=False)
        except api.ProtectorError:
            common.engine_error(request)
            return False
        return common.started(request, _("Failover"), handle)


class UnplannedFailoverForm(GroupForm):
    """Unplanned failover: recovers from the last replicated snapshot; the data at risk is
    shown and ``confirm_data_loss`` must be checked."""

    confirm_data_loss = django_forms.BooleanField(
        label=_("I accept losing the data written after the recovery point"),
        required=True,
        error_messages={
            "required": _(
                "An unplanned failover loses the data written after "
                "the recovery point: check the box to accept it."
            )
        },
    )

    def handle(self, request, data):
        try:
            handle = api.failover(request, self.group_id, unplanned=True)
        except api.ProtectorError:
            common.engine_error(request)
            return False
        return common.started(request, _("Unplanned failover"), handle)


class FailbackForm(GroupForm):
    reverse_replication = django_forms.BooleanField(
        label=_("Re-enable replication afterwards"),
        required=False,
        initial=True,
        help_text=_(
            "Once the VMs run on the original primary again, replication from it to the "
            "secondary site is enabled again."
        ),
    )
    force = django_forms.BooleanField(
        label=_("Force"),
        required=False,
        initial=False,
        help_text=_(
            "Proceeds although the two sites' metadata differs (this site's version is pushed). "
            "Both sites must still answer, and the VMs are still stopped before the last "
            "replication: nothing is lost."
        ),
    )

    def handle(self, request, data):
        try:
            handle = api.failback(
                request,
                self.group_id,
                reverse_replication=data["reverse_replication"],
                force=data["force"],
            )
        except api.ProtectorError:
            common.engine_error(request)
            return False
        return common.started(request, _("Failback"), handle)


class TestFailoverForm(GroupForm):
    """A DR drill: the drill maps every network of the members to an isolated network on the
    other site itself (never the stored mappings, which lead to production networks)."""

    __test__ = False
    networks = django_forms.CharField(
        label=_("Isolated networks"),
        required=True,
        widget=django_forms.Textarea(attrs={"rows": 3}),
        help_text=_(
            "One source=target a line for every network of the group's VMs, the target an "
            "isolated network on the other site, e.g. net-primary-web=dr-test-net."
        ),
    )
    flavors = django_forms.CharField(
        label=_("Flavors"),
        required=False,
        widget=django_forms.Textarea(attrs={"rows": 2}),
        help_text=_("One source=target a line; the stored mappings fill in the rest."),
    )

    def clean_networks(self):
        return parse_mappings(self.cleaned_data["networks"], _("Isolated networks"))

    def clean_flavors(self):
        return parse_mappings(self.cleaned_data["flavors"], _("Flavors"))

    def handle(self, request, data):
        try:
            handle = api.test_failover(
                request,
                self.group_id,
                networks=data["networks"],
                flavors=data["flavors"] or None,
            )
        except api.ProtectorError:
            common.engine_error(request)
            return False
        return common.started(request, _("Test failover"), handle)


class TestCleanupForm(GroupForm):
    __test__ = False

    def handle(self, request, data):
        try:
            handle = api.test_failover_cleanup(request, self.group_id)
        except api.ProtectorError:
            common.engine_error(request)
            return False
        return common.started(request, _("Test failover cleanup"), handle)
