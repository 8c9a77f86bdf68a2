"""The guard's sequential test, simulated: repeated looks keep its false rollbacks at alpha,
where a plain z-test looked at the same way does not."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from promptgraph.services.guard import ArmCounts, GuardRule, Verdict, evaluate

ROLLOUTS = 2_000
LOOK_EVERY = 50
MAX_PER_ARM = 5_000
ALPHA = 0.05
# Three standard errors of a rate estimated from ROLLOUTS runs at ALPHA.
MONTE_CARLO_ERROR = 3 * math.sqrt(ALPHA * (1 - ALPHA) / ROLLOUTS)


def _paths(seed: int, baseline_p: float, candidate_p: float) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative successes of each arm at every look, one row per rollout."""
    rng = np.random.default_rng(seed)
    looks = MAX_PER_ARM // LOOK_EVERY
    baseline = rng.binomial(LOOK_EVERY, baseline_p, size=(ROLLOUTS, looks)).cumsum(axis=1)
    candidate = rng.binomial(LOOK_EVERY, candidate_p, size=(ROLLOUTS, looks)).cumsum(axis=1)
    return baseline, candidate


def _first_verdicts(rule: GuardRule, baseline: np.ndarray, candidate: np.ndarray) -> list:
    """The first decision of each simulated rollout (WAIT when it never decided)."""
    outcomes = []
    for row in range(baseline.shape[0]):
        verdict = Verdict.WAIT
        for look in range(baseline.shape[1]):
            n = (look + 1) * LOOK_EVERY
            decision = evaluate(
                rule,
                ArmCounts(int(baseline[row, look]), n),
                ArmCounts(int(candidate[row, look]), n),
            )
            if decision.verdict is not Verdict.WAIT:
                verdict = decision.verdict
                break
        outcomes.append(verdict)
    return outcomes


def _z_test_rolls_back(baseline: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Per rollout: did a one-sided pooled z-test at ALPHA ever find the candidate worse?"""
    n = np.arange(1, baseline.shape[1] + 1) * LOOK_EVERY
    pooled = (baseline + candidate) / (2 * n)
    se = np.sqrt(pooled * (1 - pooled) * (2 / n))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (candidate - baseline) / n / se, 0.0)
    return (z < norm.ppf(ALPHA)).any(axis=1)


def test_equal_arms_are_rolled_back_at_most_alpha_however_often_looked_at() -> None:
    baseline, candidate = _paths(seed=20261201, baseline_p=0.9, candidate_p=0.9)
    rule = GuardRule(min_traces=LOOK_EVERY, max_success_rate_drop=0.0, alpha=ALPHA)
    verdicts = _first_verdicts(rule, baseline, candidate)
    guard_rate = verdicts.count(Verdict.ROLL_BACK) / ROLLOUTS
    z_rate = float(_z_test_rolls_back(baseline, candidate).mean())
    assert guard_rate <= ALPHA + MONTE_CARLO_ERROR, guard_rate
    # The same looks with a fixed-sample test: far above alpha, so the simulation can tell
    # a valid sequential test from an invalid one.
    assert z_rate > ALPHA + MONTE_CARLO_ERROR, z_rate
    assert z_rate > 3 * max(guard_rate, 1 / ROLLOUTS)


@pytest.mark.parametrize("auto_promote", [False, True])
def test_a_much_worse_candidate_is_rolled_back_at_the_first_look(auto_promote: bool) -> None:
    baseline, candidate = _paths(seed=7, baseline_p=0.9, candidate_p=0.5)
    rule = GuardRule(min_traces=200, alpha=ALPHA, auto_promote=auto_promote)
    base, cand = ArmCounts(int(baseline[0, 3]), 200), ArmCounts(int(candidate[0, 3]), 200)
    first = evaluate(rule, base, cand)
    assert first.verdict is Verdict.ROLL_BACK
    # The decision states the figures it decided on.
    assert first.words.startswith("rolled back")
    assert f"({base.successes}/200)" in first.words
    assert f"({cand.successes}/200)" in first.words


def test_no_decision_before_each_arm_has_min_traces() -> None:
    rule = GuardRule(min_traces=200)
    decision = evaluate(rule, ArmCounts(199, 199), ArmCounts(0, 5_000))
    assert decision.verdict is Verdict.WAIT
    assert decision.words == "waiting: baseline has 199 of 200 traces with a status"


def test_equal_observed_rates_are_never_rolled_back() -> None:
    rule = GuardRule(min_traces=10, alpha=0.2)
    for n in (10, 200, 10_000, 1_000_000):
        for rate in (0.0, 0.5, 0.9, 1.0):
            successes = round(rate * n)
            decision = evaluate(rule, ArmCounts(successes, n), ArmCounts(successes, n))
            assert decision.verdict is Verdict.WAIT, (n, rate, decision)


def test_a_better_candidate_is_promoted_within_the_margin_only_when_asked() -> None:
    baseline, candidate = _paths(seed=11, baseline_p=0.90, candidate_p=0.95)
    promoting = GuardRule(min_traces=200, max_success_rate_drop=0.05, auto_promote=True)
    verdicts = _first_verdicts(promoting, baseline[:200], candidate[:200])
    assert verdicts.count(Verdict.PROMOTE) == 200
    watching = GuardRule(min_traces=200, max_success_rate_drop=0.05, auto_promote=False)
    assert set(_first_verdicts(watching, baseline[:50], candidate[:50])) == {Verdict.WAIT}


def test_candidates_on_the_margin_are_promoted_at_most_alpha() -> None:
    """The promotion's error: a candidate exactly maxSuccessRateDrop worse."""
    baseline, candidate = _paths(seed=5, baseline_p=0.9, candidate_p=0.85)
    rule = GuardRule(
        min_traces=LOOK_EVERY, max_success_rate_drop=0.05, alpha=ALPHA, auto_promote=True
    )
    verdicts = _first_verdicts(rule, baseline, candidate)
    assert verdicts.count(Verdict.PROMOTE) / ROLLOUTS <= ALPHA + MONTE_CARLO_ERROR
