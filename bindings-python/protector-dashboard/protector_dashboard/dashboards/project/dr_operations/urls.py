"""URLs of Project > Site Recovery > DR Operations."""

from django.urls import re_path

from protector_dashboard.dashboards.project.dr_operations import views

urlpatterns = [
    re_path(r"^$", views.IndexView.as_view(), name="index"),
    re_path(r"^(?P<operation_id>[^/]+)/$", views.DetailView.as_view(), name="detail"),
]
