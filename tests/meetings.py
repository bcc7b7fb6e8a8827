"""Helpers to build meetings in tests (polls app)."""

from polls.models import Choice, Flag, Meeting, Question, QuestionKind


def meeting(title="Demo", questions=(), flags=(), **kw) -> Meeting:
    """questions: (kind, text, [(choice text, correct)...], extra fields)"""
    m = Meeting.objects.create(title=title, **kw)
    for i, spec in enumerate(questions):
        kind, text, choices, *extra = (*spec, {}) if len(spec) == 3 else spec
        q = Question.objects.create(
            meeting=m, order=i, kind=kind, text=text, **(extra[0] if extra else {})
        )
        for j, (ctext, correct) in enumerate(choices):
            Choice.objects.create(question=q, order=j, text=ctext, is_correct=correct)
    for name, code, points, bonus in flags:
        Flag.objects.create(meeting=m, name=name, code=code, points=points, first_blood_bonus=bonus)
    return m


def standard(**kw) -> Meeting:
    """A slide, a poll, a quiz, a word cloud and a rating; one flag."""
    return meeting(
        questions=[
            (QuestionKind.TEXT, "Welcome", []),
            (
                QuestionKind.POLL,
                "Favourite colour?",
                [("Red", False), ("Green", False), ("Blue", False)],
            ),
            (QuestionKind.QUIZ, "2 + 2?", [("3", False), ("4", True), ("Four", True)]),
            (
                QuestionKind.WORDCLOUD,
                "One word?",
                [],
                {"max_words": 2, "blocked_words": "spam, eggs"},
            ),
            (QuestionKind.RATING, "Rate us", [], {"rating_max": 5}),
        ],
        flags=[("Hidden", "s3cret", 10, 5)],
        **kw,
    )


def q(m: Meeting, kind: str) -> Question:
    return m.questions.get(kind=kind)


def choice(question: Question, text: str) -> Choice:
    return question.choices.get(text=text)
