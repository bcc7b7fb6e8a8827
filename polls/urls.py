from django.urls import path

from . import views

app_name = "polls"
urlpatterns = [
    path("join/", views.join, name="join"),
    path("join/<str:code>/qr.svg", views.join_qr, name="join_qr"),
    path("host/", views.host_index, name="host_index"),
    path("host/<int:meeting_id>/", views.host_dashboard, name="host_dashboard"),
    path("host/<int:meeting_id>/duplicate/", views.host_duplicate, name="host_duplicate"),
    path("host/<int:meeting_id>/questions/", views.host_add_question, name="host_add_question"),
    path("host/<int:meeting_id>/window/", views.host_window, name="host_window"),
    path("host/<int:meeting_id>/scores.csv", views.export_scores, name="export_scores"),
    path("host/<int:meeting_id>/results.csv", views.export_results, name="export_results"),
    path("host/<int:meeting_id>/flags/<int:flag_id>/qr.svg", views.flag_qr, name="flag_qr"),
]
