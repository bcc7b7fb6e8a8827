"""Pages of the meetings app: host list/create/dashboard, exports, QR codes, participant page."""

from __future__ import annotations

import csv
import io
from functools import wraps

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from ingest.models import ChatSource
from ingest.permissions import HOST_GROUP, has_role

from . import services
from .models import (
    Flag,
    Meeting,
    MeetingState,
    Participant,
    QuestionKind,
    Vote,
    Word,
    normalize_join_code,
)
from .parsing import choice_token


def host_required(view):
    @wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not has_role(request.user, HOST_GROUP):
            raise PermissionDenied("Meetings are run by staff and the “host” group.")
        return view(request, *args, **kwargs)

    return wrapped


def public_base(request) -> str:
    configured = getattr(settings, "CHORUS_PUBLIC_URL", "")
    if configured and configured != "http://127.0.0.1:8000":
        return configured.rstrip("/")
    return request.build_absolute_uri("/").rstrip("/")


def join_url(request, code: str, **extra) -> str:
    return f"{public_base(request)}{reverse('polls:join')}?{urlencode({'code': code, **extra})}"


def qr_svg(data: str) -> str:
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return buf.getvalue().decode()


class MeetingForm(forms.ModelForm):
    class Meta:
        model = Meeting
        fields = [
            "title",
            "description",
            "starts_at",
            "ends_at",
            "sources",
            "scoring_mode",
            "points_correct",
            "first_correct_bonus",
            "timed_max_points",
            "timed_window_seconds",
            "streak_bonus",
            "allow_vote_change",
            "chat_prefix",
            "flag_command",
            "flag_prefix",
        ]
        widgets = {
            "starts_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}),
            "description": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.fields["sources"].queryset = ChatSource.objects.all()
        self.fields["sources"].required = False


@host_required
def host_index(request):
    form = MeetingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        meeting = form.save(commit=False)
        meeting.join_code = services.unique_join_code()
        meeting.created_by = request.user
        meeting.save()
        form.save_m2m()
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    return render(
        request,
        "polls/host_index.html",
        {"meetings": Meeting.objects.all()[:200], "form": form},
    )


@host_required
@require_POST
def host_duplicate(request, meeting_id):
    get_object_or_404(Meeting, pk=meeting_id)
    copy = services.duplicate_meeting(meeting_id, request.user)
    return redirect("polls:host_dashboard", meeting_id=copy.pk)


@host_required
def host_dashboard(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    url = join_url(request, meeting.join_code)
    return render(
        request,
        "polls/host_dashboard.html",
        {
            "meeting": meeting,
            "join_url": url,
            "qr": qr_svg(url),
            "description_html": services.render_description(meeting.description),
            "flags": meeting.flags.all(),
            "question_form": QuestionForm(),
            "window_form": WindowForm(instance=meeting),
            "time_zone": settings.TIME_ZONE,
        },
    )


class WindowForm(forms.ModelForm):
    """The meeting's start/end window (validated by Meeting.clean: the end after the start)."""

    class Meta:
        model = Meeting
        fields = ["starts_at", "ends_at"]
        widgets = {
            "starts_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
            ),
            "ends_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }


def _read_only(request, meeting: Meeting) -> bool:
    """The dashboard's forms change the meeting like its websocket commands do: only the host in
    control may use them (or anyone, while nobody controls it). A read-only second dashboard is
    told so and nothing changes."""
    if meeting.controller_id in (None, request.user.pk):
        return False
    messages.error(
        request, "Read-only: another host controls this meeting. Take control first."
    )
    return True


@host_required
@require_POST
def host_window(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    if _read_only(request, meeting):
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    form = WindowForm(request.POST, instance=meeting)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    try:
        services.set_window(
            meeting.pk, form.cleaned_data["starts_at"], form.cleaned_data["ends_at"]
        )
    except services.ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    from .ending import publish_window

    publish_window(meeting.pk)
    return redirect("polls:host_dashboard", meeting_id=meeting.pk)


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(choices=QuestionKind.choices)
    text = forms.CharField(max_length=500)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Poll/quiz: one choice per line; start a quiz's correct choices with *",
    )
    timer_seconds = forms.IntegerField(required=False, min_value=1, max_value=3600)
    rating_max = forms.IntegerField(required=False, min_value=2, max_value=100)
    max_words = forms.IntegerField(required=False, min_value=1, max_value=20)
    min_word_length = forms.IntegerField(
        required=False, min_value=services.WORD_LENGTH_MIN, max_value=services.WORD_LENGTH_MAX
    )
    max_word_length = forms.IntegerField(
        required=False, min_value=services.WORD_LENGTH_MIN, max_value=services.WORD_LENGTH_MAX
    )
    blocked_words = forms.CharField(required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        lines = [x.strip() for x in (data.get("choices") or "").splitlines() if x.strip()]
        parsed = [(x[1:].strip(), True) if x.startswith("*") else (x, False) for x in lines]
        kind = data.get("kind")
        if kind in (QuestionKind.POLL, QuestionKind.QUIZ) and len(parsed) < 2:
            raise forms.ValidationError("A poll or a quiz needs at least two choices.")
        if kind == QuestionKind.QUIZ and not any(c for _, c in parsed):
            raise forms.ValidationError("Mark at least one correct choice with *.")
        shortest, longest = data.get("min_word_length"), data.get("max_word_length")
        if shortest and longest and shortest > longest:
            raise forms.ValidationError("The shortest word cannot be longer than the longest.")
        data["parsed_choices"] = parsed if kind in (QuestionKind.POLL, QuestionKind.QUIZ) else []
        return data


@host_required
@require_POST
def host_add_question(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    if _read_only(request, meeting):
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    form = QuestionForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errs in form.errors.values() for e in errs))
        return redirect("polls:host_dashboard", meeting_id=meeting.pk)
    d = form.cleaned_data
    services.add_question(
        meeting.pk,
        kind=d["kind"],
        text=d["text"],
        choices=d["parsed_choices"],
        timer_seconds=d["timer_seconds"],
        rating_max=d["rating_max"] or 5,
        max_words=d["max_words"] or 3,
        min_word_length=d["min_word_length"],
        max_word_length=d["max_word_length"],
        blocked_words=d["blocked_words"],
    )
    _publish_state(meeting.pk)
    return redirect("polls:host_dashboard", meeting_id=meeting.pk)


def _publish_state(meeting_id: int) -> None:
    from ingest.publish import publish_sync

    from .live import host_group
    from .serializers import host_state

    m = Meeting.objects.select_related("current_question", "controller").get(pk=meeting_id)
    publish_sync(host_group(meeting_id), {"type": "host.state", **host_state(m)})


@host_required
def flag_qr(request, meeting_id, flag_id):
    flag = get_object_or_404(Flag, pk=flag_id, meeting_id=meeting_id)
    return HttpResponse(
        qr_svg(join_url(request, flag.meeting.join_code, flag=flag.code)),
        content_type="image/svg+xml",
    )


def join_qr(request, code):
    meeting = get_object_or_404(Meeting, join_code=normalize_join_code(code))
    return HttpResponse(qr_svg(join_url(request, meeting.join_code)), content_type="image/svg+xml")


def _csv(name: str, header: list[str], rows) -> HttpResponse:
    resp = HttpResponse(content_type="text/csv; charset=utf-8")
    resp["Content-Disposition"] = f'attachment; filename="{name}"'
    w = csv.writer(resp)
    w.writerow(header)
    for row in rows:
        # Spreadsheet formula injection: chat text is hostile.
        w.writerow(
            ["'" + c if isinstance(c, str) and c[:1] in ("=", "+", "-", "@") else c for c in row]
        )
    return resp


@host_required
def export_scores(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)
    rows = (
        Participant.objects.filter(meeting=meeting)
        .order_by("-score", "score_reached_at", "id")
        .values_list("nickname", "platform", "platform_user_id", "score", "score_reached_at")
    )
    return _csv(
        f"meeting-{meeting.pk}-scores.csv",
        ["rank", "nickname", "platform", "platform_user_id", "score", "score_reached_at"],
        ((i, *r) for i, r in enumerate(rows, 1)),
    )


@host_required
def export_results(request, meeting_id):
    meeting = get_object_or_404(Meeting, pk=meeting_id)

    def rows():
        for q in meeting.questions.prefetch_related("choices"):
            for i, c in enumerate(q.choices.all()):
                n = Vote.objects.filter(question=q, choice=c).count()
                yield (q.order, q.kind, q.text, choice_token(c.token, i), c.text, c.is_correct, n)
            if q.kind == "rating":
                for v in range(1, q.rating_max + 1):
                    n = Vote.objects.filter(question=q, value=v).count()
                    yield (q.order, q.kind, q.text, str(v), str(v), "", n)
            if q.kind == "wordcloud":
                from django.db.models import Count

                for w in (
                    Word.objects.filter(question=q)
                    .values("word")
                    .annotate(n=Count("id"))
                    .order_by("-n", "word")
                ):
                    yield (q.order, q.kind, q.text, "", w["word"], "", w["n"])

    return _csv(
        f"meeting-{meeting.pk}-results.csv",
        ["order", "kind", "question", "token", "answer", "correct", "count"],
        rows(),
    )


def join(request):
    """The participant page: enter the code (pre-filled from the QR) and a nickname."""
    from django.utils import timezone

    from .window import ENDED, NOT_STARTED, phase

    code = normalize_join_code(request.GET.get("code", ""))[:16]
    meeting = Meeting.objects.filter(join_code=code).first() if code else None
    window = phase(meeting.starts_at, meeting.ends_at, timezone.now()) if meeting else None
    return render(
        request,
        "polls/join.html",
        {
            "code": code,
            "meeting": meeting,
            "ended": meeting is not None
            and (meeting.state == MeetingState.AFTER or window == ENDED),
            "opens_at": meeting.starts_at if window == NOT_STARTED else None,
        },
    )
