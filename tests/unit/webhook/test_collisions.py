"""Names that differ only by '.' and '-' are denied at creation (issue 12, finding 9)."""

from __future__ import annotations

from locust_operator.webhook.collisions import collision_errors


def test_a_dotted_name_collides_with_its_dashed_twin() -> None:
    [error] = collision_errors("dot.case", ["other", "dot-case"])
    assert error.field == "metadata.name"
    assert "'dot-case'" in error.message and "dot-case-master" in error.message


def test_the_same_name_or_a_different_one_does_not_collide() -> None:
    assert collision_errors("dot.case", ["dot.case"]) == []  # itself (an UPDATE's view)
    assert collision_errors("a.b", ["a-c", "ab", "a.b.c"]) == []
