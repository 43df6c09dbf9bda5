#!/usr/bin/env python3
"""Independent reference figures for the charges of docs/loan-servicing.md §8 and
tests/db/test_loan_charges.c.

Written from the rule in docs/loan-servicing.md §8 alone (Python decimal at 80 digits, fractions);
it shares no code with src/fund/charge.c. The schedule of L and the interest formula come from
tests/accrual_reference.py (itself independent of the C code). Run: python3 tests/charge_reference.py
"""
import contextlib
import datetime as dt
import io
import os
import sys
from decimal import Decimal as D, ROUND_FLOOR
from fractions import Fraction as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
with contextlib.redirect_stdout(io.StringIO()):  # it prints its own figures on import
    import accrual_reference as A

L = A.schedule(1_200_000_000, F(24, 100), 12, 1, 12, dt.date(2026, 2, 15))
W = [p + i for (_, _, p, i, _, _) in L]  # what the borrower pays per instalment
T0 = dt.date(2026, 1, 15)  # start of instalment 1's period


def q(cap):
    return D(cap.numerator) / D(cap.denominator) + 1


def t_of(d):
    return F(max((d - T0).days, 0), 365)


def pv(cap, charges):
    """PV at the cap of the instalments (k/12) and of the charges (days/365 after T0)."""
    x = sum(D(w) / A.power(q(cap), F(k + 1, 12)) for k, w in enumerate(W))
    return x + sum(D(a) / A.power(q(cap), t_of(d)) for a, d in charges)


def largest(cap, earlier, when, received=1_200_000_000):
    """The largest charge on `when` within the cap, in minor units (exact real, then floored)."""
    return (D(received) - pv(cap, earlier)) * A.power(q(cap), t_of(when))


def out(name, value):
    print(f"{name} = {value}")


def cents(x):
    return (D(x) / 100).quantize(D("0.01"), rounding=ROUND_FLOOR)


C1 = (5_000_000, dt.date(2026, 3, 10))
out("CH.pv_instalments_28", cents(pv(F(28, 100), [])))
out("CH.max_2026-03-10_28", cents(largest(F(28, 100), [], C1[1])))
out("CH.pv_instalments_26.5", cents(pv(F(265, 1000), [])))
out("CH.pv_charge1_26.5", cents(pv(F(265, 1000), [C1]) - pv(F(265, 1000), [])))
out("CH.room_t0_26.5", cents(D(1_200_000_000) - pv(F(265, 1000), [C1])))
out("CH.max_2026-04-20_26.5", cents(largest(F(265, 1000), [C1], dt.date(2026, 4, 20))))
bal = 1_200_000_000 - L[0][2]
out("CH.balance_after_row1", D(bal) / 100)
ci = A.interest(bal, F(24, 100), F(1, 12) * F(25, 28))  # 2026-02-15 .. 2026-03-12 of a 28-day period
out("CH.current_interest_2026-03-12", D(ci) / 100)
out("CH.payoff_2026-03-12", D(bal + ci + C1[0]) / 100)
out("CH.row2", f"principal {D(L[1][2]) / 100} interest {D(L[1][3]) / 100}")
