from django.urls import path

from . import views

app_name = "ingest"
urlpatterns = [
    path("dashboard/", views.moderation_dashboard, name="dashboard"),
]
