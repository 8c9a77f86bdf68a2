"""Which arm of a rollout a fetch gets (contract section 4.2).

The rule is published so that every client computes the same arm as the server: a subject
gets the candidate when the first 8 bytes of sha256("<rollout id>:<subject>"), read as a
big-endian integer over 2**64, fall below the weight. A subject's point is fixed for the
rollout, so it keeps its arm while the weight does not shrink past it, and moving the weight
moves only the subjects between the old and the new weight. Without a subject each fetch
draws afresh.
"""

import hashlib
import random

_SCALE = float(2**64)


def subject_point(rollout_id: str, subject: str) -> float:
    """The subject's fixed place in [0, 1) for this rollout."""
    digest = hashlib.sha256(f"{rollout_id}:{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def gets_candidate(rollout_id: str, weight: float, subject: str | None) -> bool:
    if subject is None:
        return random.random() < weight
    return subject_point(rollout_id, subject) < weight
