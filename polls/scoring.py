"""Scoring rules as plain functions (no database): classic and timed (Kahoot-like) modes."""

from __future__ import annotations

from .models import ScoringMode


def timed_points(max_points: int, elapsed: float, window: float) -> int:
    """Full points for an instant answer, falling linearly to half at the end of the window;
    never below half (late answers accepted by a lenient close still get half)."""
    if window <= 0:
        return max_points
    fraction = min(max(elapsed, 0.0) / window, 1.0)
    return max(round(max_points * (1 - 0.5 * fraction)), (max_points + 1) // 2)


def answer_points(
    *,
    mode: str,
    correct: bool,
    points_correct: int = 1,
    max_points: int = 1000,
    elapsed: float = 0.0,
    window: float = 20.0,
    streak_before: int = 0,
    streak_bonus: int = 0,
) -> int:
    """Points for one quiz answer, WITHOUT the first-correct bonus (see first_correct_bonus)."""
    if not correct:
        return 0
    if mode == ScoringMode.TIMED:
        return timed_points(max_points, elapsed, window) + streak_bonus * streak_before
    return points_correct


def window_for(timer_seconds: int | None, default_window: int) -> float:
    return float(timer_seconds or default_window)


def rank(rows: list[dict]) -> list[dict]:
    """Order scoreboard rows: higher score first, then who reached that score first, then id.

    Each row needs ``score``, ``score_reached_at`` and ``id``. Adds ``rank`` (1-based)."""
    ordered = sorted(rows, key=lambda r: (-r["score"], r["score_reached_at"], r["id"]))
    for i, row in enumerate(ordered, 1):
        row["rank"] = i
    return ordered
