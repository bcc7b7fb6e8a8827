from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

app_name = "ingest"
urlpatterns = [
    path("dashboard/", views.moderation_dashboard, name="dashboard"),
    # Moderators need not be staff, so they cannot use the admin's login form.
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
