"""``path("jobs/", include("conveyor.contrib.django.urls"))``: the dashboard for staff."""

from __future__ import annotations

from django.urls import re_path

from conveyor.contrib.django.views import dashboard

app_name = "conveyor"
urlpatterns = [re_path(r"^(?P<path>.*)$", dashboard, name="dashboard")]
