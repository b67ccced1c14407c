"""Which version strings name a release, and how releases order and cover each other."""

from __future__ import annotations

import pytest

from smp.versions import covers, release_key, release_of


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("1.24.1", "1.24.1"),
        ("v1.16.0", "1.16.0"),
        ("stable-2.14.10", "2.14.10"),
        ("version-2.18", "2.18"),
        ("1.20", "1.20"),
        (" 1.22 ", "1.22"),
        ("1.17.0-pre.1", None),
        ("1.25.0-rc.1", None),
        ("edge-24.1.1", None),
        ("main", None),
        ("https://github.com/istio/istio/pull/46148", None),
        ("", None),
        (None, None),
    ],
)
def test_a_release_is_numbers_after_an_optional_known_prefix(
    text: str | None, release: str | None
) -> None:
    assert release_of(text) == release


def test_releases_order_numerically() -> None:
    versions = ["1.10.0", "1.9.2", "1.24", "1.24.1", "1.2"]

    assert sorted(versions, key=release_key) == ["1.2", "1.9.2", "1.10.0", "1.24", "1.24.1"]  # type: ignore[arg-type]


def test_a_minor_line_covers_its_patches_and_a_patch_only_itself() -> None:
    assert covers("1.24", "1.24.1")
    assert covers("1.24", "v1.24.0")
    assert covers("1.26.1", "1.26.1")
    assert not covers("1.26.1", "1.26.0")
    assert not covers("1.24", "1.25.0")
    assert not covers("1.2", "1.20.0")  # the float trap: 1.20 read as 1.2 must not match 1.20
    assert not covers("main", "1.24.1")
