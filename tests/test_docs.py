"""The documents' links: every relative link points at a file of the repository, every anchor at a heading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import ROOT, UNKNOWN_WORDS

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.M)


def prose(text: str) -> str:
    """The text without fenced code blocks (their brackets are code, not links)."""
    return _FENCE.sub("", text)


def links(path: Path) -> list[str]:
    return _LINK.findall(_CODE.sub("", prose(path.read_text(encoding="utf-8"))))


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a file's headings: lowercased, punctuation dropped, spaces as hyphens, -1 for repeats."""
    seen: dict[str, int] = {}
    found = set()
    for title in _HEADING.findall(prose(path.read_text(encoding="utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def test_the_documents_exist_and_have_links() -> None:
    assert (ROOT / "docs" / "event-schema.md").is_file() and (ROOT / "docs" / "cloudwatch-limits.md").is_file()
    readme = links(ROOT / "README.md")
    assert "docs/event-schema.md" in readme and "docs/cloudwatch-limits.md" in readme


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_stays_in_the_repository_and_resolves(path: Path) -> None:
    for link in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", link):  # https:, mailto:: not a file of ours
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        assert file.is_relative_to(ROOT), f"{path.name}: {link} leaves the repository"
        assert file.exists(), f"{path.name}: {link} points at nothing"
        if anchor:
            assert file.suffix == ".md", f"{path.name}: {link}: an anchor into a file that is not Markdown"
            assert anchor in anchors(file), f"{path.name}: {link}: no heading has the anchor #{anchor}"


def test_the_anchor_rule_matches_github() -> None:
    sample = ROOT / "README.md"
    found = anchors(sample)
    assert {"options", "a-local-endpoint", "otel-cw-exporter-demo", "iam-least-privilege"} <= found
    assert "moving-from-watchtower-and-a-cloudwatch_log-helper" in found


def user_facing_texts() -> list[tuple[str, str]]:
    """The documents, the examples and the package's docstrings (``help()`` shows them), by name."""
    import ast

    texts = [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in DOCUMENTS[1:]]
    texts.append(("README.md", (ROOT / "README.md").read_text(encoding="utf-8")))
    texts += [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "examples").glob("*.py"))
    ]
    for path in sorted((ROOT / "otel_cw_exporter").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = [
            tree,
            *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))),
        ]
        docstrings = [ast.get_docstring(node) or "" for node in nodes]
        texts.append((str(path.relative_to(ROOT)), "\n".join(docstrings)))
    return texts


def test_no_internal_words_for_users() -> None:
    found = [(name, match.group(0)) for name, text in user_facing_texts() for match in UNKNOWN_WORDS.finditer(text)]
    assert found == []
