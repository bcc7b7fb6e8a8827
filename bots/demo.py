"""Demo bots for the demo meeting (called by `manage.py seed_demo`)."""

from .models import BotConfig, ChatCommand, Revolution, TimerMessage


def seed() -> str:
    from polls.models import Meeting

    meeting = Meeting.objects.filter(sources__platform="demo").order_by("-created_at").first()
    if meeting is None:
        return "no demo meeting to attach bots to"
    if BotConfig.objects.filter(meeting=meeting).exists():
        return f"bots of '{meeting}': exist"
    BotConfig.objects.create(meeting=meeting)
    ChatCommand.objects.create(
        meeting=meeting,
        name="help",
        aliases="commands",
        reply="{user}: vote with #1, #2... · !score · !top · !join · !revolution",
    )
    Revolution.objects.create(
        meeting=meeting,
        command="revolution",
        threshold=3,
        window_seconds=60,
        cooldown_seconds=120,
        message="✊ Chat has spoken: the revolution is on!",
    )
    TimerMessage.objects.create(
        meeting=meeting,
        text="Join the quiz at {join_url} (code {join_code})",
        interval_seconds=90,
        min_lines=10,
        order=1,
    )
    TimerMessage.objects.create(
        meeting=meeting,
        text="Now playing: {meeting} · top scorer: {top_scorer}",
        interval_seconds=90,
        min_lines=10,
        order=2,
    )
    return f"bots of '{meeting}': !help, !score, !top, !join, !revolution (3 viewers in 60 s), 2 timers"
