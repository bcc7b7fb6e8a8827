from django.contrib import admin, messages

from . import services
from .models import Choice, Flag, Meeting, Participant, Question


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ("order", "kind", "text", "timer_seconds", "status")
    readonly_fields = ("status",)
    show_change_link = True


class FlagInline(admin.TabularInline):
    model = Flag
    extra = 0
    fields = ("name", "code", "points", "first_blood_bonus")


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    list_display = ("title", "join_code", "state", "scoring_mode", "starts_at")
    readonly_fields = ("join_code", "state", "current_question", "version", "controller")
    filter_horizontal = ("sources",)
    inlines = [QuestionInline, FlagInline]
    actions = ["duplicate"]

    def save_model(self, request, obj, form, change):
        # The window (ends_at after starts_at) is validated by Meeting.clean, run by the form.
        if not change and obj.created_by_id is None:
            obj.created_by = request.user
        window_changed = change and {"starts_at", "ends_at"} & set(form.changed_data)
        if window_changed:
            obj.version += 1
        super().save_model(request, obj, form, change)
        if window_changed:
            from django.db import transaction

            from .ending import publish_window

            # Participants and dashboards see the new window; the end timer is re-armed.
            transaction.on_commit(lambda: publish_window(obj.pk))

    @admin.action(description="Duplicate with questions and flags")
    def duplicate(self, request, queryset):
        for m in queryset:
            copy = services.duplicate_meeting(m.pk, request.user)
            self.message_user(
                request, f"Created “{copy}” (code {copy.join_code})", messages.SUCCESS
            )


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 2
    fields = ("order", "text", "token", "is_correct")


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("text", "meeting", "order", "kind", "status")
    list_filter = ("kind", "status")
    inlines = [ChoiceInline]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ("nickname", "meeting", "platform", "score")
    list_filter = ("platform",)
    readonly_fields = ("token_hash",)
