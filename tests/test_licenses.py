"""The default install is permissive-only: every distribution in the runtime closure of pyproject's
``dependencies`` must carry a permissive license (MIT, BSD, Apache, PSF, MPL, ISC, ...) and none may be
GPL, LGPL or AGPL. docs/dependencies.md lists them with the reason each was chosen.

Licenses are read from the installed metadata: ``License-Expression`` (PEP 639), the ``License`` field
and the ``License ::`` classifiers. Packages whose metadata says nothing usable are accepted only
through ``VERIFIED`` below, each with the license checked by hand; copyleft words in the metadata fail
the test even for those.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

COPYLEFT = re.compile(r"\b(A|L)?GPL|GNU (Affero |Lesser |Library )?General Public|\bSSPL\b|\bEUPL\b", re.IGNORECASE)
PERMISSIVE = re.compile(
    r"\bMIT\b|\bBSD\b|0BSD|Apache|\bPSF\b|Python Software Foundation|\bMPL\b|Mozilla Public|\bISC\b|\bZlib\b"
    r"|\bCC0\b|Unlicense|\bHPND\b|MIT-CMU|Historical Permission|Unicode",
    re.IGNORECASE,
)

#: Distributions whose metadata carries no usable license, accepted after checking the license by hand.
#: name -> the verified license and where it was checked.
VERIFIED: dict[str, str] = {
    # PyPI metadata says "BSD-3-Clause, Apache-2.0, dependency licenses": pypdfium2's code is
    # Apache-2.0 or BSD-3-Clause; the bundled PDFium binary is BSD-3-Clause with permissive third-party
    # parts (FreeType under the FreeType License, libjpeg-turbo IJG/BSD, zlib, lcms2 MIT, OpenJPEG BSD-2,
    # ICU Unicode-3.0, Abseil Apache-2.0), listed in the wheel's BUILD_LICENSES folder.
    "pypdfium2": "Apache-2.0 OR BSD-3-Clause; PDFium BSD-3-Clause (+ permissive bundled libraries)",
}


def default_closure() -> dict[str, md.Distribution]:
    """The installed distributions the default install pulls in (pyproject ``dependencies`` and theirs)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    pending = [Requirement(spec) for spec in pyproject["project"]["dependencies"]]
    found: dict[str, md.Distribution] = {}
    missing: list[str] = []
    while pending:
        req = pending.pop()
        name = canonicalize_name(req.name)
        if name in found:
            continue
        try:
            dist = md.distribution(req.name)
        except md.PackageNotFoundError:
            missing.append(req.name)
            continue
        found[name] = dist
        for spec in dist.requires or []:
            dep = Requirement(spec)
            if dep.marker is None or dep.marker.evaluate({"extra": ""}):  # no extras: the default install
                pending.append(dep)
    if missing:
        pytest.fail(f"default dependencies not installed (run make install): {sorted(set(missing))}")
    return found


def license_texts(dist: md.Distribution) -> list[str]:
    """What the metadata says about the license: expression, License field (first line), classifiers."""
    meta = dist.metadata
    texts = [meta.get("License-Expression") or ""]
    field = (meta.get("License") or "").strip()
    if field and field.upper() != "UNKNOWN":
        texts.append(field.splitlines()[0][:200])  # some packages paste the whole license text here
    texts += [c.split("::", 1)[1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    return [t.strip() for t in texts if t.strip()]


def test_default_install_is_permissive_only() -> None:
    closure = default_closure()
    assert {"numpy", "pypdfium2", "jieba", "lxml"} <= set(closure)  # the walk found the real closure
    copyleft: list[str] = []
    unknown: list[str] = []
    for name, dist in sorted(closure.items()):
        texts = license_texts(dist)
        if any(COPYLEFT.search(t) for t in texts):
            copyleft.append(f"{name} {dist.version}: {texts}")
        elif name not in VERIFIED and not any(PERMISSIVE.search(t) for t in texts):
            unknown.append(f"{name} {dist.version}: {texts or 'no license metadata'}")
    assert not copyleft, "copyleft licenses in the default install (make them an opt-in extra):\n" + "\n".join(copyleft)
    assert not unknown, (
        "no recognisable license in the metadata; check the license by hand and add the package to VERIFIED "
        "with what you found:\n" + "\n".join(unknown)
    )


def test_dependencies_doc_lists_every_default_dependency() -> None:
    doc = (ROOT / "docs" / "dependencies.md").read_text(encoding="utf-8").lower()
    listed = {canonicalize_name(m) for m in re.findall(r"^\| `?([a-z0-9][a-z0-9._-]*)`? \|", doc, re.MULTILINE)}
    missing = sorted(set(default_closure()) - listed)
    assert not missing, f"docs/dependencies.md does not list: {missing}"


def test_checker_recognises_copyleft_and_permissive() -> None:
    assert COPYLEFT.search("GNU Affero General Public License v3")
    assert COPYLEFT.search("LGPL-2.1-or-later") and COPYLEFT.search("GPL-3.0-only")
    assert not COPYLEFT.search("MIT") and not COPYLEFT.search("Apache Software License")
    assert PERMISSIVE.search("BSD-3-Clause AND 0BSD AND MIT") and PERMISSIVE.search("MPL-2.0")
    assert not PERMISSIVE.search("Proprietary")
