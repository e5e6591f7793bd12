"""Site failover: every protection group running on the site fails over to its peer."""

from django import forms as django_forms
from django.utils.translation import gettext_lazy as _
from horizon import forms

from protector_dashboard import common
from protector_dashboard.api import protector as api


class SiteFailoverForm(forms.SelfHandlingForm):
    unplanned = django_forms.BooleanField(
        label=_("Unplanned (the site is down)"),
        required=False,
        initial=False,
        help_text=_(
            "Recovers each group from its last replicated snapshot: the data written "
            "after it is lost."
        ),
    )
    concurrency = django_forms.IntegerField(
        label=_("Groups at once"),
        min_value=1,
        initial=api.SITE_FAILOVER_CONCURRENCY,
        help_text=_(
            "At most this many groups fail over at once; the services' call limits set the pace."
        ),
    )
    confirm = django_forms.BooleanField(
        label=_("Fail every protection group of this site over"), required=True
    )

    def __init__(self, request, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.site_name = self.initial["site_name"]

    def handle(self, request, data):
        try:
            handle = api.site_failover(
                request,
                self.site_name,
                unplanned=data["unplanned"],
                concurrency=data["concurrency"],
            )
        except api.ProtectorError:
            common.engine_error(request)
            return False
        self.operation_id = common.started(request, _("Site failover"), handle)
        return self.operation_id
