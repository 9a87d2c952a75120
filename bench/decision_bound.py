#!/usr/bin/python3
"""decision_bound.py - the least mean time any test needs to roll back a
+2pp canary on the benchmark's ramp when it must also leave healthy
canaries alone while the baseline steps on both sides at the release
(docs/judge.md#why-not-faster-what-no-test-can-beat). Arithmetic only: it
reads nothing and runs no release.

The argument: let P be "+2pp canary (0.1% -> 2.1%), steady 0.1% primary"
and Q_q "healthy canary, both sides at q from the release". A test that
rolls back with probability >= CATCH under P and <= FALSE under Q_q
gathers, on average under P, at least d(CATCH, FALSE) nats of KL
divergence between P and Q_q before it stops (the data-processing
inequality with Wald's identity). K_q(t), the divergence after t ticks of
the ramp, is bounded by a*t + b(a) for every slope a (b(a) the largest
K_q(t) - a*t over the ticks t >= 1 where a decision can fall), so the mean
number of ticks is at least max over a of (d - b(a)) / a. The history
before the release is alike under P and Q_q and carries nothing.

Prints the bound for the benchmark's step (q = 0.8%) and the largest bound
over every step level q (a test that protects against every step, as the
judge's step guard does, must satisfy all of them)."""
import math
import sys

RATE = 2.0                      # requests per second
TICK = 60.0                     # the analysis interval, seconds
WEIGHTS = [0.1, 0.2, 0.3, 0.4, 0.5]   # stepWeight 10 to maxWeight 50, then held
BASE, BAD = 0.001, 0.021        # the primary's error rate, the +2pp canary's
CATCH, FALSE = 0.99, 0.005      # the targets of issue 20
TICKS = 600


def kl(p, q):
    """KL divergence between Bernoulli(p) and Bernoulli(q), in nats."""
    return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))


def divergence(q):
    """K_q(t) for t = 0 .. TICKS."""
    out, s = [0.0], 0.0
    for t in range(1, TICKS + 1):
        w = WEIGHTS[min(t, len(WEIGHTS)) - 1]
        s += RATE * TICK * (w * kl(BAD, q) + (1 - w) * kl(BASE, q))
        out.append(s)
    return out


def bound(q, need):
    k = divergence(q)
    best = 0.0
    for i in range(1, 3000):
        a = i / 1000.0
        b = max(k[t] - a * t for t in range(1, TICKS + 1))
        best = max(best, (need - b) / a)
    return best


def main():
    need = kl(CATCH, FALSE)
    step = bound(0.008, need)
    worst_q, worst = max(((q / 10000.0, bound(q / 10000.0, need)) for q in range(20, 201, 5)),
                         key=lambda x: x[1])
    print("nats needed: d(%.3g, %.3g) = %.2f" % (CATCH, FALSE, need))
    print("bound: step_0.8=%.2f worst_step=%.2f worst_step_rate=%.2f%%"
          % (step, worst, 100 * worst_q))
    return 0


if __name__ == "__main__":
    sys.exit(main())
