from django.apps import AppConfig


class PollsConfig(AppConfig):
    verbose_name = "Meetings"
    name = "polls"
