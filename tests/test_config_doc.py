"""docs/configuration.md lists every environment variable that pollsite/settings.py reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ROOT / "pollsite" / "settings.py"
DOC = ROOT / "docs" / "configuration.md"

# env("NAME", env.bool("NAME", env.int/float/list/db/path/str/json/url("NAME", and the
# settings helper _secret("NAME", ...) that reads a required secret.
READ = re.compile(
    r"""\b(?:env(?:\.(?:bool|int|float|list|tuple|dict|db|db_url|cache|cache_url|path|str|json|url|email|email_url|search_url))?|_secret|os\.environ\.get|os\.getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)
ENVIRON_ITEM = re.compile(r"""os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]""")
# os.environ.setdefault(...) under pytest only sets defaults for variables read elsewhere.


def variables_read(source: str) -> set[str]:
    return set(READ.findall(source)) | set(ENVIRON_ITEM.findall(source))


def documented(doc: str) -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]*)`", doc))


def test_parser_finds_the_known_forms():
    sample = "\n".join(
        [
            'A = env("PLAIN", default="")',
            "B = env.bool('A_BOOL', default=False)",
            'C = env.int("AN_INT", default=1)',
            'D = env.float("A_FLOAT", default=1.0)',
            'E = env.list("A_LIST", default=[])',
            'F = env.db("A_DB", default="sqlite://")',
            'G = env.path("A_PATH", default="/")',
            'H = _secret("A_SECRET", factory)',
            'I = env.str( "SPACED" )',
            "J = settings.NOT_AN_ENV",
        ]
    )
    assert variables_read(sample) == {
        "PLAIN",
        "A_BOOL",
        "AN_INT",
        "A_FLOAT",
        "A_LIST",
        "A_DB",
        "A_PATH",
        "A_SECRET",
        "SPACED",
    }


def test_settings_reads_the_core_variables():
    # Guards the parser against silently finding nothing in the real file.
    found = variables_read(SETTINGS.read_text())
    assert {"DEBUG", "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "CHORUS_ENCRYPTION_KEYS"} <= found


def test_every_variable_in_settings_is_documented():
    missing = sorted(variables_read(SETTINGS.read_text()) - documented(DOC.read_text()))
    assert not missing, (
        f"pollsite/settings.py reads {missing} but docs/configuration.md does not document them "
        "(add a table row with default, meaning and mode)"
    )
