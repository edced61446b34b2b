"""The README and docs/ stay navigable: every relative link names a file that exists, and every
anchor a heading of that file (GitHub's anchors)."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _prose(page: Path) -> str:
    """The page without its fenced code blocks, where brackets are code, not links."""
    return FENCE.sub("", page.read_text())


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", _prose(page), re.M)
    return {_anchor(heading) for heading in headings}


def _relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(_prose(page))
        if not re.match(r"[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto:
    ]


def test_the_anchor_of_a_heading_is_githubs():
    assert _anchor("`make stack`: the whole topology on this machine") == (
        "make-stack-the-whole-topology-on-this-machine"
    )
    assert _anchor("One champion move at a time, and the better model wins") == (
        "one-champion-move-at-a-time-and-the-better-model-wins"
    )


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(REPO).as_posix())
def test_every_relative_link_points_at_an_existing_file_and_heading(page: Path):
    for target in _relative_links(page):
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.exists(), f"{page.name}: link to {target}: no such file"
        if anchor:
            assert anchor in _anchors(linked), f"{page.name}: link to {target}: no such heading"


def test_every_page_in_docs_is_linked_from_the_readme():
    linked = {(REPO / target.partition("#")[0]).resolve() for target in _relative_links(PAGES[0])}
    assert set(PAGES[1:]) <= linked, sorted(p.name for p in set(PAGES[1:]) - linked)


def test_the_readme_gives_the_command_ci_runs():
    ci_command = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command == "make test"
    assert f"`{ci_command}`" in (REPO / "README.md").read_text()
