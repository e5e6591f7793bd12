"""URLs of Project > Site Recovery > Protection Groups."""

from django.urls import re_path

from protector_dashboard.dashboards.project.protection_groups import views

GROUP = r"^(?P<group_id>[^/]+)/"

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^create/$", views.CreateView.as_view(), name="create"),
    re_path(GROUP + r"$", views.DetailView.as_view(), name="detail"),
    re_path(GROUP + r"add_members/$", views.AddMembersView.as_view(), name="add_members"),
    re_path(GROUP + r"remove_members/$", views.RemoveMembersView.as_view(), name="remove_members"),
    re_path(GROUP + r"policy/$", views.CreatePolicyView.as_view(), name="create_policy"),
    re_path(GROUP + r"mappings/$", views.SetMappingsView.as_view(), name="set_mappings"),
    re_path(GROUP + r"failover/$", views.FailoverView.as_view(), name="failover"),
    re_path(
        GROUP + r"unplanned_failover/$",
        views.UnplannedFailoverView.as_view(),
        name="unplanned_failover",
    ),
    re_path(GROUP + r"failback/$", views.FailbackView.as_view(), name="failback"),
    re_path(GROUP + r"test_failover/$", views.TestFailoverView.as_view(), name="test_failover"),
    re_path(GROUP + r"test_cleanup/$", views.TestCleanupView.as_view(), name="test_cleanup"),
]
