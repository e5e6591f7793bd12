"""URLs of Admin > Site Recovery > DR Sites."""

from django.urls import re_path

from protector_dashboard.dashboards.admin.dr_sites import views

SITE = r"^(?P<site_name>[^/]+)/"

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(SITE + r"$", views.DetailView.as_view(), name="detail"),
    re_path(SITE + r"site_failover/$", views.SiteFailoverView.as_view(), name="site_failover"),
    re_path(
        SITE + r"operations/(?P<operation_id>[^/]+)/$",
        views.OperationView.as_view(),
        name="operation",
    ),
]
