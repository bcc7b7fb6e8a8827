from django.urls import path

from . import views

app_name = "bots"
urlpatterns = [
    path("obs/", views.obs_status, name="obs"),
    path("clips/", views.clip_list, name="clips"),
    path("clips/<int:pk>/media", views.clip_media, name="clip-media"),
    path("clips/<int:pk>/delete", views.clip_delete, name="clip-delete"),
    path("alerts/<int:pk>/<str:key>/video", views.alert_video, name="alert-video"),
]
