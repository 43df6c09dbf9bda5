#!/usr/bin/env python3
"""Independent reference figures for docs/loan-servicing.md and tests/unit/test_accrual.c.

Written from the convention in docs/loan-servicing.md alone, with Python's decimal module at
80 significant digits and fractions.Fraction for exponents and splits; it shares no code with
src/fund/accrual.c. Run: python3 tests/accrual_reference.py  (prints "name = value" lines; the
unit test holds the same figures).
"""
import datetime as dt
from decimal import Decimal as D, getcontext, ROUND_HALF_EVEN, ROUND_FLOOR
from fractions import Fraction as F

getcontext().prec = 80


def rnd(x):
    return int(x.quantize(D(1), rounding=ROUND_HALF_EVEN))


def power(base, frac):
    """base ** frac (frac a Fraction) to 80 digits: exp(ln(base) * num / den)."""
    return (base.ln() * D(frac.numerator) / D(frac.denominator)).exp()


def interest(balance, ea, frac):
    """round_half_even(balance * ((1+ea)^frac - 1)); ea a Fraction."""
    if balance == 0 or ea == 0 or frac == 0:
        return 0
    q = D(ea.numerator) / D(ea.denominator) + 1
    return rnd(D(balance) * (power(q, frac) - 1))


def days(a, b):
    return (b - a).days


def d360(a, b):
    d1 = 30 if a.day == 31 else a.day
    d2 = 30 if (b.day == 31 and d1 == 30) else b.day
    return 360 * (b.year - a.year) + 30 * (b.month - a.month) + (d2 - d1)


def dc_days(dc, a, b):
    return days(a, b) if dc == "act_365" else d360(a, b)


def year_frac(dc, a, b):
    return F(days(a, b), 365) if dc == "act_365" else F(d360(a, b), 360)


def add_months(d, k):
    m0 = d.month - 1 + k
    y, m = d.year + m0 // 12, m0 % 12 + 1
    import calendar
    return dt.date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def stretch_frac(dc, n, s, e, a, b):
    """Exponent of [a, b) inside the instalment period (s, e]: (1/n) * dc(a,b) / dc(s,e)."""
    return F(1, n) * F(dc_days(dc, a, b), dc_days(dc, s, e))


def annuity(P, ea, n, m):
    q = D(ea.numerator) / D(ea.denominator) + 1
    r = power(q, F(1, n)) - 1
    return rnd(D(P) * r / (1 - (1 + r) ** (-m)))


def schedule(P, ea, n, pm, N, first_due, gp=0, gi=0, level=None):
    """Rows (no, due, principal, interest, capitalised, balance_after); annuity method.
    level given: keep that instalment (reduce_term) instead of a new annuity."""
    rows, bal, W = [], P, None
    for i in range(1, N + 1):
        due = add_months(first_due, (i - 1) * pm)
        it = interest(bal, ea, F(1, n))
        cap = 0
        p = 0
        if i <= gi:
            bal += it
            cap, it = it, 0
        elif i > gp:
            if W is None:
                W = level if level is not None else annuity(bal, ea, n, N - gp)
            p = bal if i == N else min(W - it, bal)
        bal -= p
        rows.append((i, due, p, it, cap, bal))
        if level is not None and bal == 0:
            break
    return rows


def split(total, weights):
    W = sum(weights)
    base = [total * w // W for w in weights]
    rem = [F(total * w, W) - b for w, b in zip(weights, base)]
    left = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-rem[i], i))
    for i in order[:left]:
        base[i] += 1
    return base


def out(name, value):
    print(f"{name} = {value}")


EA24 = F(24, 100)

# 1. Day counts.
a, b = dt.date(2026, 1, 15), dt.date(2026, 3, 1)
out("dc.act365.2026-01-15..2026-03-01", days(a, b))
out("dc.30360.2026-01-15..2026-03-01", d360(a, b))
out("dc.30360.2026-01-31..2026-03-31", d360(dt.date(2026, 1, 31), dt.date(2026, 3, 31)))
out("dc.30360.2026-02-28..2026-03-31", d360(dt.date(2026, 2, 28), dt.date(2026, 3, 31)))

# 2. d days on a balance: 10,000,000.00 at 24% EA, 45 days act/365.
out("accrual.45d.act365", interest(1_000_000_000, EA24, F(45, 365)))
out("accrual.46d.30360", interest(1_000_000_000, EA24, F(46, 360)))

# 3. Loan L: 12,000,000.00, 24% EA, monthly, 12 instalments, first due 2026-02-15, annuity.
L = schedule(1_200_000_000, EA24, 12, 1, 12, dt.date(2026, 2, 15))
W = L[1][2] + L[1][3]
out("L.level", W)
out("L.row1.interest", L[0][3])
out("L.row1.principal", L[0][2])
out("L.total_interest", sum(r[3] for r in L))
s1, e1 = dt.date(2026, 1, 15), dt.date(2026, 2, 15)
out("L.row1.by_stretch", interest(1_200_000_000, EA24, stretch_frac("act_365", 12, s1, e1, s1, e1)))
# Month-end accrual 2026-01-31 (books only; the stretch is not cut there).
out("L.accrued.2026-01-31", interest(1_200_000_000, EA24, stretch_frac("act_365", 12, s1, e1, s1, dt.date(2026, 1, 31))))

# 4. Two drawdowns: 6,000,000.00 on 2026-01-15 and 6,000,000.00 on 2026-01-25.
v1 = schedule(600_000_000, EA24, 12, 1, 12, dt.date(2026, 2, 15))
out("TD.v1.level", v1[1][2] + v1[1][3])
d2 = dt.date(2026, 1, 25)
v2 = schedule(1_200_000_000, EA24, 12, 1, 12, dt.date(2026, 2, 15))  # rows 1..12 re-cut on 12M
i_a = interest(600_000_000, EA24, stretch_frac("act_365", 12, s1, e1, s1, d2))
i_b = interest(1_200_000_000, EA24, stretch_frac("act_365", 12, s1, e1, d2, e1))
out("TD.row1.stretch1", i_a)
out("TD.row1.stretch2", i_b)
out("TD.row1.interest", i_a + i_b)
out("TD.row1.principal", v2[0][2])
out("TD.v2.level", v2[1][2] + v2[1][3])
out("TD.total_interest", i_a + i_b + sum(r[3] for r in v2[1:]))
out("TD.old_total_interest", sum(r[3] for r in L))

# 5. Prepayment: loan L, rows 1..3 paid on their due dates, 5,000,000.00 paid on 2026-05-05.
B3 = L[2][5]
s4, e4 = L[2][1], L[3][1]
pd = dt.date(2026, 5, 5)
i4a = interest(B3, EA24, stretch_frac("act_365", 12, s4, e4, s4, pd))
P4 = L[3][2]
X = 500_000_000 - i4a - P4
Bp = B3 - P4 - X
i4b = interest(Bp, EA24, stretch_frac("act_365", 12, s4, e4, pd, e4))
out("PP.B3", B3)
out("PP.row4.interest_to_payment", i4a)
out("PP.row4.principal", P4)
out("PP.prepayment", X)
out("PP.balance_after", Bp)
out("PP.row4.interest_after", i4b)
ri = schedule(Bp, EA24, 12, 1, 8, dt.date(2026, 6, 15))
out("PP.reduce_instalment.level", ri[0][2] + ri[0][3])
out("PP.reduce_instalment.rows", len(ri))
out("PP.reduce_instalment.last_total", ri[-1][2] + ri[-1][3])
out("PP.reduce_instalment.interest_rows5_12", sum(r[3] for r in ri))
rt = schedule(Bp, EA24, 12, 1, 8, dt.date(2026, 6, 15), level=W)
out("PP.reduce_term.rows", len(rt))
out("PP.reduce_term.last_principal", rt[-1][2])
out("PP.reduce_term.last_interest", rt[-1][3])
out("PP.reduce_term.interest_rows5_end", sum(r[3] for r in rt))
out("PP.old_interest_rows5_12", sum(r[3] for r in L[4:]))

# 6. Default interest: row 2 of L (principal due 2026-03-15) paid on 2026-04-20; fund default
# rate 0.3000 EA from 2026-01-01; usury caps 0.2800 from 2026-03-01, 0.2650 from 2026-04-01.
P2 = L[1][2]
di1 = interest(P2, F(28, 100), F(days(dt.date(2026, 3, 15), dt.date(2026, 4, 1)), 365))
di2 = interest(P2, F(265, 1000), F(days(dt.date(2026, 4, 1), dt.date(2026, 4, 20)), 365))
out("DI.overdue_principal", P2)
out("DI.stretch1", di1)
out("DI.stretch2", di2)
out("DI.total", di1 + di2)
out("DI.uncapped", interest(P2, F(30, 100), F(36, 365)))

# 7. Grace loan of the issue: 176,800,000.00 at 24.75% EA quarterly, 2 interest-grace and 3
# principal-grace instalments; term 10, first due 2026-04-30 (the loan: these terms give
# its figures 20,670,641.87 capitalised and 129,023,156.07 after six instalments).
EA = F(2475, 10000)
G = schedule(17_680_000_000, EA, 4, 3, 10, dt.date(2026, 4, 30), gp=3, gi=2)
out("G.capitalised", sum(r[4] for r in G))
out("G.balance_after_row2", G[1][5])
out("G.level", G[3][2] + G[3][3])
k = 6  # rows 1..6 paid on their due dates; payoff in period 7
sk, ek = G[k - 1][1], G[k][1]
out("G.balance_after_row6", G[k - 1][5])
out("G.row7.interest", G[k][3])
out("G.issue_balance_plus_current_interest", G[k - 1][5] + G[k][3])
po = dt.date(2027, 9, 15)
acc = interest(G[k - 1][5], EA, stretch_frac("act_365", 4, sk, ek, sk, po))
out("G.payoff.period_start", sk.isoformat())
out("G.payoff.period_end", ek.isoformat())
out("G.payoff.accrued", acc)
out("G.payoff", G[k - 1][5] + acc)
out("G.principal_repaid_rows1_6", sum(r[2] for r in G[:k]))
out("G.old_cap_payoff", 17_680_000_000 - sum(r[2] for r in G[:k]) + G[k][3])

# 8. Origination fee 2 % of loan L (240,000.00) at the drawdown: cost EA of the borrower's flows.
fee = 24_000_000
net = D(1_200_000_000 - fee)
lo, hi = D(0), D(1)
for _ in range(200):
    mid = (lo + hi) / 2
    pv = sum(D(r[2] + r[3]) / power(1 + mid, F(i + 1, 12)) for i, r in enumerate(L))
    lo, hi = (mid, hi) if pv > net else (lo, mid)
out("FEE.cost_ea_4dp", lo.quantize(D("0.0001"), rounding=ROUND_FLOOR))

# 9. Splits: weights 1,1,1; drawn 100.00; repaid 50.00 twice.
per_amount = [a - b - c for a, b, c in zip(split(10000, [1, 1, 1]), split(5000, [1, 1, 1]), split(5000, [1, 1, 1]))]
out("SPLIT.per_amount_residue", per_amount)
t0, t1, t2 = split(10000, [1, 1, 1]), split(5000, [1, 1, 1]), split(0, [1, 1, 1])
out("SPLIT.cumulative_part1", [x - y for x, y in zip(t0, t1)])
out("SPLIT.cumulative_part2", [x - y for x, y in zip(t1, t2)])

# 6b. The same loan state on 2026-04-20 with rows 2 and 3 unpaid (row 1 paid on its due date).
P3 = L[2][2]
di3 = interest(P3, F(265, 1000), F(days(dt.date(2026, 4, 15), dt.date(2026, 4, 20)), 365))
out("DI.row3.default", di3)
out("DI.due.default", di1 + di2 + di3)
out("DI.due.overdue_interest", L[1][3] + L[2][3])
out("DI.due.overdue_principal", P2 + P3)
out("DI.due.current_interest", interest(L[2][5], EA24, stretch_frac("act_365", 12, L[2][1], L[3][1], L[2][1], dt.date(2026, 4, 20))))

# 10. Drawn before the first period starts: L drawn 2026-01-05, stub of 10 days act/365 due with
# row 1; and L under 30/360 drawn 2026-01-25 (period 2026-01-15 .. 2026-02-15 is 30 days 30/360).
stub = interest(1_200_000_000, EA24, F(10, 365))
out("STUB.stub", stub)
out("STUB.row1.interest", stub + L[0][3])
out("D360.row1.interest", interest(1_200_000_000, EA24, F(1, 12) * F(d360(dt.date(2026, 1, 25), e1), d360(s1, e1))))
# 11. Largest exponent denominators: one day of a 31-day month (1/372) and of a 33-day 30/360
# month (1/396), on 12,000,000.00 at 24 % EA.
out("DEN.372", interest(1_200_000_000, EA24, F(1, 372)))
out("DEN.396", interest(1_200_000_000, EA24, F(1, 396)))
# 12. Close example: 1,000,000.00 at 24.75 % EA quarterly, 1 interest-grace instalment: row 1
# capitalises one quarter's interest.
out("CLOSE.capitalised", interest(100_000_000, F(2475, 10000), F(1, 4)))
# 13. The same loan with a 4 % fee (480,000.00): cost above a 33 % cap.
net = D(1_200_000_000 - 48_000_000)
lo, hi = D(0), D(1)
for _ in range(200):
    mid = (lo + hi) / 2
    pv = sum(D(r[2] + r[3]) / power(1 + mid, F(i + 1, 12)) for i, r in enumerate(L))
    lo, hi = (mid, hi) if pv > net else (lo, mid)
out("FEE4.cost_ea_4dp", lo.quantize(D("0.0001"), rounding=ROUND_FLOOR))
