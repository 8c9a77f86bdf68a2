"""The published assignment rule, as a client would compute it from the contract's text."""

import hashlib

from promptgraph.services.assignment import gets_candidate, subject_point


def _contract_rule(rollout_id: str, subject: str, weight: float) -> bool:
    digest = hashlib.sha256(f"{rollout_id}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < weight


def test_ten_thousand_subjects_get_the_arm_the_published_rule_gives() -> None:
    for i in range(10_000):
        subject = f"user-{i}-é"
        for weight in (0.01, 0.25, 0.5, 0.99):
            assert gets_candidate("42", weight, subject) == _contract_rule("42", subject, weight)


def test_raising_the_weight_only_moves_subjects_onto_the_candidate() -> None:
    subjects = [f"s{i}" for i in range(5_000)]
    before = {s for s in subjects if gets_candidate("7", 0.2, s)}
    after = {s for s in subjects if gets_candidate("7", 0.3, s)}
    assert before < after
    moved = after - before
    assert all(0.2 <= subject_point("7", s) < 0.3 for s in moved)
    assert 0.05 * len(subjects) < len(moved) < 0.15 * len(subjects)


def test_without_a_subject_the_candidate_share_follows_the_weight() -> None:
    draws = [gets_candidate("7", 0.3, None) for _ in range(20_000)]
    assert 0.27 < sum(draws) / len(draws) < 0.33
