"""Create Protection Group: name and replication type, then the sites and the volume type."""

from django import forms as django_forms
from django.utils.translation import gettext_lazy as _
from horizon import forms, workflows

from protector_dashboard import common
from protector_dashboard.api import protector as api


class GroupInfoAction(workflows.Action):
    name = forms.CharField(label=_("Name"), max_length=255)
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=1024,
        widget=django_forms.Textarea(attrs={"rows": 3}),
    )
    replication_type = forms.ChoiceField(
        label=_("Replication type"),
        choices=(
            ("async", _("Asynchronous (snapshots every interval)")),
            ("sync", _("Synchronous (ActiveCluster pod)")),
        ),
        initial="async",
    )

    class Meta:
        name = _("Protection Group")
        slug = "group_info"
        help_text = _(
            "A protection group is a set of VMs that fail over together, with their "
            "volumes in one consistency group replicated to the other site."
        )


class GroupInfo(workflows.Step):
    action_class = GroupInfoAction
    contributes = ("name", "description", "replication_type")


class SitesAction(workflows.Action):
    primary_site = forms.ThemableChoiceField(label=_("Primary site"))
    secondary_site = forms.ThemableChoiceField(label=_("Secondary site"))
    volume_type = forms.ThemableChoiceField(
        label=_("Volume type"),
        help_text=_(
            "The primary site's volume types that can be replicated; the members' "
            "volumes must be of this type."
        ),
    )

    class Meta:
        name = _("Sites and Storage")
        slug = "sites"

    def __init__(self, request, context, *args, **kwargs):
        super().__init__(request, context, *args, **kwargs)
        local = api.local_site()
        try:
            sites = api.sites(request)
        except api.ProtectorError:
            common.engine_error(request)
            sites = []
        names = [str(s.name) for s in sites]
        self.fields["primary_site"].choices = [(n, n) for n in names]
        self.fields["primary_site"].initial = local
        self.fields["secondary_site"].choices = [(n, n) for n in names]
        others = [n for n in names if n != local]
        if others:
            self.fields["secondary_site"].initial = others[0]
        try:
            types = api.volume_types(request, local)
        except api.ProtectorError:
            common.engine_error(request)
            types = []
        self.fields["volume_type"].choices = [(str(t.name), str(t.name)) for t in types]


class Sites(workflows.Step):
    action_class = SitesAction
    contributes = ("primary_site", "secondary_site", "volume_type")


class CreateProtectionGroup(workflows.Workflow):
    slug = "create_protection_group"
    name = _("Create Protection Group")
    finalize_button_name = _("Create")
    success_message = _('Created protection group "%s".')
    failure_message = _('Unable to create protection group "%s".')
    success_url = "horizon:project:protection_groups:index"
    default_steps = (GroupInfo, Sites)

    def format_status_message(self, message):
        return message % self.context.get("name", "")

    def handle(self, request, context):
        try:
            self.object = api.group_create(
                request,
                context["name"],
                primary_site=context["primary_site"],
                secondary_site=context["secondary_site"],
                volume_type=context["volume_type"],
                replication_type=context["replication_type"],
                description=context.get("description") or "",
            )
        except api.ProtectorError as error:
            # The engine's message, and the workflow stays open with what was entered.
            common.engine_error(request)
            raise django_forms.ValidationError(str(error)) from error
        return True
