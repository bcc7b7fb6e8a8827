"""LICENSE is the AGPL-3.0 text, and docs/licenses.md stays in step with requirements.txt."""

import hashlib
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "licenses.md"
REQUIREMENTS = ROOT / "requirements.txt"


def _load_tool():
    spec = importlib.util.spec_from_file_location("chorus_licenses", ROOT / "bin" / "licenses.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


licenses = _load_tool()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def documented_rows() -> dict[str, str]:
    """{package: version} from the rows of the generated table."""
    rows = re.findall(r"^\| `([^`]+)` \| ([^ |]+) \|", DOC.read_text(), flags=re.M)
    return {canonical(name): version for name, version in rows}


def test_every_pinned_package_is_documented_with_its_version():
    pins = {canonical(n): v for n, v in licenses.read_pins(REQUIREMENTS)}
    assert len(pins) > 50  # guards the parser against reading nothing
    rows = documented_rows()
    missing = sorted(set(pins) - set(rows))
    assert not missing, (
        f"requirements.txt pins {missing} but docs/licenses.md has no row for them: "
        "run .venv/bin/python bin/licenses.py"
    )
    stale = {n: (rows[n], v) for n, v in pins.items() if rows[n] != v}
    assert not stale, f"docs/licenses.md shows other versions (doc, pin): {stale}"
    removed = sorted(set(rows) - set(pins))
    assert not removed, f"docs/licenses.md lists packages no longer pinned: {removed}"


def test_doc_is_what_the_generator_produces_from_installed_metadata():
    current = DOC.read_text()
    generated = licenses.updated_document(
        current, licenses.render(licenses.collect(licenses.read_pins()))
    )
    assert generated == current, "docs/licenses.md is out of date: run bin/licenses.py"


def test_doc_covers_vendored_assets_and_test_tools():
    text = DOC.read_text()
    for needle in ("AnyChart", "SortableJS", "chromium", "OBS Studio", "AGPL-3.0-or-later"):
        assert needle in text


VENDOR_VERSION = [
    # (file name pattern under static/, regex for the version in its header, what the doc calls it)
    ("anychart*.js", r"Version: (\d+\.\d+\.\d+)", "AnyChart"),
    ("Sortable*.js", r"Sortable (\d+\.\d+\.\d+)", "SortableJS"),
]


@pytest.mark.parametrize("pattern, version_re, name", VENDOR_VERSION)
def test_vendored_asset_versions_match_the_doc(pattern, version_re, name):
    """Whoever vendors or upgrades AnyChart/SortableJS must update docs/licenses.md."""
    row = next(line for line in DOC.read_text().splitlines() if line.startswith(f"| {name} "))
    for path in (ROOT / "static").rglob(pattern):
        m = re.search(version_re, path.read_text(errors="replace")[:3000])
        if m:
            assert f"| {m.group(1)}" in row, f"{path} is version {m.group(1)}; docs say: {row}"


@pytest.mark.parametrize(
    "expression, verdict",
    [
        ("MIT", "ok"),
        ("Apache-2.0 AND MIT", "ok"),
        ("GPL-3.0-only", "ok"),
        ("GPL-2.0-only", "INCOMPATIBLE"),
        ("MIT AND GPL-2.0-only", "INCOMPATIBLE"),
        ("GPL-2.0-only OR MIT", "ok"),
        ("LicenseRef-Proprietary", "INCOMPATIBLE"),
        ("Some-New-Licence-1.0", "UNKNOWN"),
        (None, "UNKNOWN"),
    ],
)
def test_compatibility_verdicts(expression, verdict):
    assert licenses.verdict(expression)[0] == verdict


def test_licence_file_recognition():
    assert licenses.from_text((ROOT / "LICENSE").read_text()) == "AGPL-3.0-only"
    mit = "Permission is hereby granted, free of charge, to any person obtaining a copy"
    assert licenses.from_text(mit) == "MIT"
    bsd3 = (
        "Redistribution and use in source and binary forms ... Neither the name of the "
        "copyright holder nor the names of its contributors may be used"
    )
    assert licenses.from_text(bsd3) == "BSD-3-Clause"
    assert licenses.from_text("Redistribution and use in source and binary forms") == (
        "BSD-2-Clause"
    )
    assert licenses.from_text("all rights reserved") is None


def test_unknown_and_incompatible_packages_are_flagged_in_the_doc():
    rows = licenses.collect(licenses.read_pins())
    text = DOC.read_text()
    flagged_section = text.split("### Flagged", 1)[1]
    for row in rows:
        if row.verdict != "ok":
            assert f"**{row.name} {row.pinned}: {row.verdict}**" in flagged_section


def test_license_file_is_the_complete_unmodified_agpl_v3():
    text = (ROOT / "LICENSE").read_text()
    lines = text.splitlines()
    assert lines[0].strip() == "GNU AFFERO GENERAL PUBLIC LICENSE"
    assert lines[1].strip() == "Version 3, 19 November 2007"
    assert "How to Apply These Terms to Your New Programs" in text
    assert lines[-1] == "<https://www.gnu.org/licenses/>."
    assert "Additional Permissions" not in text  # TikTokLive's extra terms are not ours
    # The canonical text published by the FSF (661 lines, 34523 bytes).
    assert len(lines) == 661
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "8486a10c4393cee1c25392769ddd3b2d6c242d6ec7928e1414efff7dfb2f07ef"
    )


def test_project_declares_agpl_or_later():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "AGPL-3.0-or-later"
