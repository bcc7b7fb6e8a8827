from datetime import datetime

from bots.keywords import Debouncer, KeywordMatcher, clip_filename, sanitize_component, unique_path


def test_whole_word_and_substring_matching_is_case_insensitive():
    m = KeywordMatcher(["clip", "Replay"], whole_word=True)
    assert m.match("CLIP that!") == "clip"
    assert m.match("eclipse") is None
    assert m.match("replay please") == "replay"
    assert KeywordMatcher(["clip"], whole_word=False).match("eclipse") == "clip"
    assert KeywordMatcher([" ", ""]).match("anything") is None


def test_keywords_with_punctuation_and_non_ascii():
    m = KeywordMatcher(["c++", "¡olé!"])
    assert m.match("I love c++ a lot") == "c++"
    assert m.match("¡OLÉ! amigos") == "¡olé!"


def test_flood_of_the_same_keyword_fires_once_per_cooldown():
    t = [0.0]
    d = Debouncer(global_seconds=2, clock=lambda: t[0])
    fired = [d.allow("clip", cooldown=30) for _ in range(100)]
    assert fired.count(True) == 1
    t[0] = 3
    assert not d.allow("clip", 30)  # trigger cooldown
    assert d.allow("scene", 30)  # other trigger after the global debounce
    t[0] = 31
    assert d.allow("clip", 30)


def test_clip_names_are_safe_on_every_os(tmp_path):
    when = datetime(2026, 11, 22, 4, 5, 6)
    assert clip_filename("Zoë K.", "clip", when, ".mkv") == "Zoë-K_clip_2026-11-22_04-05-06.mkv"
    name = clip_filename('a/b\\c:d*e?"f<g>|h', "x", when, "mp4")
    assert not any(c in name for c in '/\\:*?"<>|')
    assert sanitize_component("CON") == "_CON"
    assert sanitize_component("...") == "unknown"
    assert sanitize_component("x" * 500).__len__() <= 60
    (tmp_path / "a_b_c.mkv").write_text("")
    assert unique_path(tmp_path, "a_b_c.mkv").name == "a_b_c-2.mkv"
