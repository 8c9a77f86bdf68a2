"""The rollout guard's statistics: an always-valid sequential test of two success rates.

Why a sequential test: the guard looks at a rollout's arms every few seconds for as long as
it runs. A fixed-sample test (the comparison's two-proportion z-test) looked at that often
rolls back a candidate exactly as good as its baseline far more often than its `alpha`
(tests/test_guard_statistics.py measures it at 100 looks). The guard uses the
normal-mixture sequential probability ratio test (mSPRT) of Robbins (1970), in the form of
Johari, Koomen, Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of A/B
Tests", Operations Research 70(3), 2022, whose error stays below `alpha` however often and
whenever it is evaluated.

With n_b, n_c traces with a status and s_b, s_c successes, the estimated difference of the
success rates and its variance are

    d = s_c/n_c - s_b/n_b,    v = q_b(1 - q_b)/n_b + q_c(1 - q_c)/n_c,

where q = (s + 1)/(n + 2) keeps v positive when an arm is all successes. Against the
boundary of non-inferiority, theta0 = -maxSuccessRateDrop, the mixture likelihood ratio
(over a normal mixing distribution of variance tau^2 around theta0) is

    Lambda = sqrt(v / (v + tau^2)) * exp(tau^2 (d - theta0)^2 / (2 v (v + tau^2))).

Under theta = theta0 Lambda is a nonnegative martingale (for the Gaussian approximation
of d), so by Ville's inequality P(Lambda ever >= 1/alpha) <= alpha. Once each arm has
`minTraces` traces with a status, the guard rolls back when Lambda >= 1/alpha and
d < theta0 (the candidate is worse by more than the margin), and, with `autoPromote`,
promotes when Lambda >= 1/alpha and d > theta0 (it is shown not worse by more than the
margin). Either decision about a candidate on the boundary happens with probability at most
alpha over the whole rollout.
"""

import math
from dataclasses import dataclass
from enum import StrEnum

# The mixing distribution's standard deviation: the size of difference the test is most
# sensitive to. 0.1 suits success rates, where drops of a few to tens of points matter.
MIXTURE_SD = 0.1


class Verdict(StrEnum):
    WAIT = "WAIT"
    ROLL_BACK = "ROLL_BACK"
    PROMOTE = "PROMOTE"


@dataclass(frozen=True)
class ArmCounts:
    """Traces with a status and successes among them, over the arm's usages."""

    successes: int
    with_status: int

    @property
    def rate(self) -> float | None:
        return self.successes / self.with_status if self.with_status else None


@dataclass(frozen=True)
class GuardRule:
    min_traces: int = 200
    max_success_rate_drop: float = 0.0
    alpha: float = 0.05
    auto_promote: bool = False


@dataclass(frozen=True)
class GuardDecision:
    verdict: Verdict
    statistic: float | None  # Lambda, once both arms have enough traces
    difference: float | None  # candidate minus baseline success rate
    words: str  # where the guard stands, for people


def mixture_likelihood_ratio(
    baseline: ArmCounts, candidate: ArmCounts, theta0: float, tau: float = MIXTURE_SD
) -> tuple[float, float]:
    """(Lambda, d) of the module docstring; both arms must have traces with a status."""

    def variance(arm: ArmCounts) -> float:
        q = (arm.successes + 1) / (arm.with_status + 2)
        return q * (1 - q) / arm.with_status

    difference = candidate.successes / candidate.with_status - (
        baseline.successes / baseline.with_status
    )
    v = variance(baseline) + variance(candidate)
    tau2 = tau * tau
    exponent = tau2 * (difference - theta0) ** 2 / (2 * v * (v + tau2))
    # Past e^700 the ratio is beyond every threshold 1/alpha can set; keep it finite.
    return math.sqrt(v / (v + tau2)) * math.exp(min(exponent, 700.0)), difference


def evaluate(rule: GuardRule, baseline: ArmCounts, candidate: ArmCounts) -> GuardDecision:
    """What the guard decides from the arms' counts now."""
    short = [
        f"{arm} has {counts.with_status} of {rule.min_traces} traces with a status"
        for arm, counts in (("baseline", baseline), ("candidate", candidate))
        if counts.with_status < rule.min_traces
    ]
    if short:
        return GuardDecision(Verdict.WAIT, None, None, "waiting: " + "; ".join(short))
    theta0 = -rule.max_success_rate_drop
    statistic, difference = mixture_likelihood_ratio(baseline, candidate, theta0)
    threshold = 1 / rule.alpha
    figures = (
        f"candidate {candidate.rate:.4f} ({candidate.successes}/{candidate.with_status}) "
        f"against baseline {baseline.rate:.4f} ({baseline.successes}/{baseline.with_status}), "
        f"difference {difference:+.4f}, margin {rule.max_success_rate_drop:.4f}, "
        f"mSPRT likelihood ratio {statistic:.4g} (threshold 1/alpha = {threshold:.4g})"
    )
    if statistic >= threshold and difference < theta0:
        return GuardDecision(
            Verdict.ROLL_BACK,
            statistic,
            difference,
            f"rolled back: the candidate is worse than the margin allows: {figures}",
        )
    if statistic >= threshold and difference > theta0:
        if rule.auto_promote:
            return GuardDecision(
                Verdict.PROMOTE,
                statistic,
                difference,
                f"promoted: the candidate is shown not worse than the margin: {figures}",
            )
        return GuardDecision(
            Verdict.WAIT,
            statistic,
            difference,
            f"shown not worse than the margin (autoPromote is off): {figures}",
        )
    return GuardDecision(Verdict.WAIT, statistic, difference, f"no decision yet: {figures}")
