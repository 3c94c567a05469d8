"""Two synthetic flat lead exports (one row per lead, a converted flag, no dates), seeded.

    python benchmarks/lookalikes/synth.py [--out benchmarks/work/lookalikes] [--seed 20240611]

writes (benchmarks/lookalikes.py runs it and reads them)
  xedu/leads.csv      9,000 rows shaped like the public "X Education lead scoring" data
                      (comma separated, header as in the Kaggle file)
  bank/contacts.csv   30,000 rows shaped like UCI "bank-additional-full"
                      (SEMICOLON separated, text quoted, like the UCI file; no id column)
and beside each a _truth.csv: the true conversion probability of every data row.

Conversion is drawn from a logistic model on the raw columns (documented below), so a
standardised-raw logistic regression is a fair, strong baseline for xedu; the bank export's
signal sits mostly in the macro columns with a threshold on nr.employed / euribor3m (as in the
real data). Leaky, outcome-dependent columns: xedu "Tags" (filled by sales after contact) and
bank "duration" (known only once the call ended). Both exports come from one random stream, xedu
first: the bank rows depend on the xedu draw before them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

# the default output folder (git-ignored, like every benchmark's scratch data)
WORK = Path(__file__).resolve().parents[1] / "work" / "lookalikes"


def pick(rng: np.random.Generator, n: int, probs: dict[str, float]) -> np.ndarray:
    keys = list(probs)
    p = np.array([probs[k] for k in keys], dtype=float)
    return rng.choice(np.array(keys, dtype=object), size=n, p=p / p.sum())


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def calibrate_intercept(logit: np.ndarray, target: float) -> float:
    """The intercept that gives the wanted mean conversion probability (bisection)."""
    lo, hi = -20.0, 20.0
    for _ in range(80):
        mid = (lo + hi) / 2
        if sigmoid(logit + mid).mean() > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


# ---------------------------------------------------------------- X Education
def xedu(rng: np.random.Generator, n: int = 9000) -> tuple[np.ndarray, pd.DataFrame]:
    origin = pick(
        rng,
        n,
        {
            "Landing Page Submission": 0.53,
            "API": 0.385,
            "Lead Add Form": 0.078,
            "Lead Import": 0.006,
            "Quick Add Form": 0.001,
        },
    )
    source = np.empty(n, dtype=object)
    for o, probs in {
        "Landing Page Submission": {
            "Google": 0.42,
            "Direct Traffic": 0.43,
            "Organic Search": 0.12,
            "Referral Sites": 0.02,
            "google": 0.006,
            "bing": 0.004,
        },
        "API": {
            "Olark Chat": 0.50,
            "Google": 0.26,
            "Direct Traffic": 0.10,
            "Organic Search": 0.10,
            "Referral Sites": 0.02,
            "google": 0.01,
            "Live Chat": 0.005,
            "Press_Release": 0.003,
            "": 0.01,
        },
        "Lead Add Form": {
            "Reference": 0.75,
            "Welingak Website": 0.20,
            "Click2call": 0.01,
            "Google": 0.04,
        },
        "Lead Import": {"Facebook": 0.9, "google": 0.1},
        "Quick Add Form": {"Reference": 1.0},
    }.items():
        m = origin == o
        source[m] = pick(rng, int(m.sum()), probs)

    no_web = np.isin(origin, ["Lead Add Form", "Lead Import", "Quick Add Form"]) | (
        source == "Olark Chat"
    )
    # visits: skewed counts, 0 for leads that never browsed, a few huge values, 1.5 % blank
    visits = rng.negative_binomial(2, 0.4, n).astype(float) + 1
    visits[no_web] = np.where(rng.random(no_web.sum()) < 0.85, 0, visits[no_web])
    heavy = rng.random(n) < 0.004
    visits[heavy] = rng.integers(30, 251, heavy.sum())
    visits = np.clip(visits, 0, 250)
    # seconds on the website: 0 without visits, otherwise a wide spread up to ~2300
    engaged = rng.beta(1.1, 2.2, n)
    seconds = np.where(visits > 0, np.round(engaged * 2300 * np.clip(0.6 + 0.05 * visits, 0, 1)), 0)
    seconds[(visits > 0) & (rng.random(n) < 0.05)] = 0  # tracking lost
    seconds = np.clip(seconds, 0, 2272)
    pages = np.where(visits > 0, np.round(np.clip(rng.gamma(2.2, 1.1, n) + 0.5, 1, 55), 2), 0.0)
    pages[heavy] = np.round(pages[heavy] * 0.4, 2)

    dne = np.where(rng.random(n) < 0.079, "Yes", "No")
    last = pick(
        rng,
        n,
        {
            "Email Opened": 0.37,
            "SMS Sent": 0.30,
            "Olark Chat Conversation": 0.105,
            "Page Visited on Website": 0.07,
            "Converted to Lead": 0.046,
            "Email Bounced": 0.035,
            "Email Link Clicked": 0.029,
            "Form Submitted on Website": 0.013,
            "Unreachable": 0.01,
            "Unsubscribed": 0.007,
            "Had a Phone Conversation": 0.003,
            "": 0.011,
        },
    )
    last[(dne == "Yes") & (rng.random(n) < 0.3)] = "Email Bounced"
    occupation = pick(
        rng,
        n,
        {
            "Unemployed": 0.606,
            "": 0.291,
            "Working Professional": 0.076,
            "Student": 0.023,
            "Other": 0.002,
            "Housewife": 0.001,
            "Businessman": 0.001,
        },
    )
    spec = pick(
        rng,
        n,
        {
            "Select": 0.21,
            "": 0.155,
            "Finance Management": 0.106,
            "Human Resource Management": 0.092,
            "Marketing Management": 0.091,
            "Operations Management": 0.054,
            "Business Administration": 0.044,
            "IT Projects Management": 0.040,
            "Supply Chain Management": 0.038,
            "Banking, Investment And Insurance": 0.037,
            "Travel and Tourism": 0.022,
            "Media and Advertising": 0.022,
            "International Business": 0.019,
            "Healthcare Management": 0.017,
            "Hospitality Management": 0.012,
            "E-COMMERCE": 0.012,
            "Retail Management": 0.011,
            "Rural and Agribusiness": 0.008,
            "E-Business": 0.006,
            "Services Excellence": 0.004,
        },
    )
    city = pick(
        rng,
        n,
        {
            "Mumbai": 0.35,
            "Select": 0.24,
            "": 0.155,
            "Thane & Outskirts": 0.081,
            "Other Cities": 0.074,
            "Other Cities of Maharashtra": 0.049,
            "Other Metro Cities": 0.041,
            "Tier II Cities": 0.008,
        },
    )
    country = pick(
        rng,
        n,
        {
            "India": 0.70,
            "": 0.266,
            "United States": 0.007,
            "United Arab Emirates": 0.006,
            "Singapore": 0.003,
            "Saudi Arabia": 0.002,
            "United Kingdom": 0.002,
            "Australia": 0.0014,
            "Qatar": 0.001,
            "unknown": 0.0005,
            "Bahrain": 0.0008,
            "Hong Kong": 0.0008,
        },
    )
    asym = np.round(np.clip(rng.normal(14.3, 1.4, n), 7, 18))
    asym[rng.random(n) < 0.456] = np.nan
    free_copy = np.where(
        (origin == "Landing Page Submission") & (rng.random(n) < 0.55), "Yes", "No"
    )

    # conversion: a logistic model on the raw columns
    logit = (
        0.0030 * seconds  # linear in raw seconds (strong)
        + 1.1 * (1 - np.exp(-visits / 2.5))  # saturating in visits
        - 0.09 * pages  # linear, mild
        + 0.22 * np.nan_to_num(asym - 14.3)  # linear where known
        + pd.Series(origin)
        .map(
            {
                "Lead Add Form": 2.6,
                "Lead Import": -0.3,
                "Quick Add Form": 1.0,
                "API": 0.0,
                "Landing Page Submission": -0.2,
            }
        )
        .to_numpy()
        + pd.Series(source)
        .map(
            {
                "Olark Chat": 0.6,
                "Reference": 0.4,
                "Welingak Website": 1.8,
                "Organic Search": -0.1,
                "Google": 0.15,
                "google": 0.15,
                "Direct Traffic": -0.15,
                "Referral Sites": -0.3,
            }
        )
        .fillna(0)
        .to_numpy()
        - 1.1 * (dne == "Yes")
        + pd.Series(last)
        .map(
            {
                "SMS Sent": 1.35,
                "Email Opened": 0.2,
                "Olark Chat Conversation": -1.2,
                "Converted to Lead": -0.9,
                "Email Bounced": -1.1,
                "Page Visited on Website": -0.2,
                "Email Link Clicked": -0.3,
                "Unreachable": -0.4,
                "Had a Phone Conversation": 1.5,
                "Unsubscribed": -0.5,
            }
        )
        .fillna(0)
        .to_numpy()
        + pd.Series(occupation)
        .map(
            {
                "Working Professional": 2.6,
                "Unemployed": 0.3,
                "": -1.1,
                "Student": 0.0,
                "Housewife": 2.0,
                "Businessman": 0.8,
                "Other": 0.4,
            }
        )
        .to_numpy()
        - 0.35 * np.isin(spec, ["Select", ""])
        - 0.15 * (free_copy == "Yes")
    )
    logit = 1.35 * logit  # sharper: a strong linear baseline (AUC ~0.86 without Tags)
    p = sigmoid(logit + calibrate_intercept(logit, 0.385))
    converted = (rng.random(n) < p).astype(int)

    # Tags: filled by sales after contact, nearly gives the outcome away
    tags = np.empty(n, dtype=object)
    pos = converted == 1
    tags[pos] = pick(
        rng,
        int(pos.sum()),
        {
            "Will revert after reading the email": 0.55,
            "": 0.24,
            "Closed by Horizzon": 0.10,
            "Lost to EINS": 0.045,
            "Busy": 0.03,
            "Ringing": 0.008,
            "Interested in other courses": 0.004,
            "switched off": 0.004,
            "in touch with EINS": 0.003,
            "Want to take admission but has financial problems": 0.002,
            "Interested  in full time MBA": 0.002,
        },
    )
    tags[~pos] = pick(
        rng,
        int((~pos).sum()),
        {
            "": 0.44,
            "Ringing": 0.21,
            "Interested in other courses": 0.085,
            "Already a student": 0.082,
            "switched off": 0.042,
            "Not doing further education": 0.024,
            "Interested  in full time MBA": 0.020,
            "Graduation in progress": 0.017,
            "invalid number": 0.013,
            "Diploma holder (Not Eligible)": 0.010,
            "wrong number given": 0.008,
            "opp hangup": 0.005,
            "number not provided": 0.004,
            "Will revert after reading the email": 0.012,
            "Busy": 0.016,
            "in touch with EINS": 0.002,
            "Lost to Others": 0.001,
        },
    )

    ids = [
        f"{a:08x}-{b:04x}-{c:04x}-{d:04x}-{e:012x}"
        for a, b, c, d, e in zip(
            rng.integers(0, 2**32, n),
            rng.integers(0, 2**16, n),
            rng.integers(0, 2**16, n),
            rng.integers(0, 2**16, n),
            rng.integers(0, 2**48, n),
            strict=True,
        )
    ]

    def blank_some(x: np.ndarray, share: float) -> np.ndarray:
        x = x.astype(float).copy()
        x[rng.random(n) < share] = np.nan
        return x

    return p, pd.DataFrame(
        {
            "Prospect ID": ids,
            "Lead Origin": origin,
            "Lead Source": source,
            "Do Not Email": dne,
            "TotalVisits": blank_some(visits, 0.015),
            "Total Time Spent on Website": seconds.astype(int),
            "Page Views Per Visit": blank_some(pages, 0.015),
            "Last Activity": last,
            "Country": country,
            "Specialization": spec,
            "What is your current occupation": occupation,
            "City": city,
            "Asymmetrique Activity Score": asym,
            "A free copy of Mastering The Interview": free_copy,
            "Tags": tags,
            "Converted": converted,
        }
    )


# ---------------------------------------------------------------- bank marketing
# macro regimes (emp.var.rate, cons.price.idx, cons.conf.idx, euribor3m, nr.employed, month, share)
# modelled on the real file's month-by-month values: most calls in the 2008 boom (high euribor,
# many employed, little conversion), few in the 2009-2010 slump (low euribor, high conversion)
REGIMES = [
    (1.1, 93.994, -36.4, 4.857, 5191.0, "may", 0.190),
    (1.4, 93.918, -42.7, 4.962, 5228.1, "jul", 0.125),
    (1.4, 94.465, -41.8, 4.961, 5228.1, "jun", 0.105),
    (1.4, 93.444, -36.1, 4.964, 5228.1, "aug", 0.095),
    (-0.1, 93.200, -42.0, 4.021, 5195.8, "nov", 0.090),
    (-1.8, 92.893, -46.2, 1.299, 5099.1, "may", 0.140),
    (-2.9, 92.963, -40.8, 1.262, 5076.2, "jul", 0.020),
    (-1.8, 93.075, -47.1, 1.405, 5099.1, "apr", 0.055),
    (-2.9, 92.201, -31.4, 0.869, 5076.2, "aug", 0.020),
    (-3.4, 92.649, -30.1, 0.715, 5017.5, "jun", 0.008),
    (-1.8, 92.843, -50.0, 1.600, 5099.1, "jul", 0.015),
    (-0.2, 92.756, -45.9, 3.800, 5176.3, "oct", 0.003),
    (-1.1, 94.199, -37.5, 0.881, 4963.6, "jul", 0.006),
    (-1.7, 94.215, -40.3, 0.885, 4991.6, "sep", 0.006),
    (-3.4, 92.379, -29.8, 0.813, 5017.5, "aug", 0.006),
    (-3.0, 92.713, -33.0, 0.720, 5023.5, "dec", 0.003),
    (-1.1, 94.601, -49.5, 0.987, 4963.6, "aug", 0.004),
    (-1.7, 94.055, -39.8, 0.742, 4991.6, "oct", 0.005),
    (-3.4, 92.431, -26.9, 0.741, 5017.5, "sep", 0.005),
    (-1.1, 94.767, -50.8, 1.048, 4963.6, "nov", 0.003),
    (-1.8, 93.369, -34.8, 0.635, 5008.7, "mar", 0.007),
    (-2.9, 92.469, -33.6, 1.072, 5076.2, "mar", 0.004),
    (-1.8, 93.749, -34.6, 0.644, 5008.7, "apr", 0.004),
    (-3.4, 92.649, -30.1, 0.683, 5017.5, "may", 0.004),
    (-1.1, 94.027, -38.3, 0.900, 4963.6, "jun", 0.003),
    (-0.1, 93.798, -40.4, 4.967, 5195.8, "nov", 0.008),
]


def bank(rng: np.random.Generator, n: int = 30000) -> tuple[np.ndarray, pd.DataFrame]:
    reg = pd.DataFrame(
        REGIMES,
        columns=[
            "emp.var.rate",
            "cons.price.idx",
            "cons.conf.idx",
            "euribor3m",
            "nr.employed",
            "month",
            "share",
        ],
    )
    which = rng.choice(len(reg), size=n, p=(reg["share"] / reg["share"].sum()).to_numpy())
    macro = reg.iloc[which].reset_index(drop=True)
    # euribor moves from day to day within a month
    euribor = np.round(
        np.clip(macro["euribor3m"].to_numpy() + rng.normal(0, 0.012, n), 0.634, 5.045), 3
    )

    age = np.clip(np.round(rng.gamma(9.0, 4.4, n) + 1), 17, 98).astype(int)
    job = pick(
        rng,
        n,
        {
            "admin.": 0.253,
            "blue-collar": 0.225,
            "technician": 0.164,
            "services": 0.096,
            "management": 0.071,
            "retired": 0.042,
            "entrepreneur": 0.035,
            "self-employed": 0.035,
            "housemaid": 0.026,
            "unemployed": 0.025,
            "student": 0.021,
            "unknown": 0.008,
        },
    )
    job[(age >= 62) & (rng.random(n) < 0.7)] = "retired"
    job[(age <= 23) & (rng.random(n) < 0.5)] = "student"
    marital = pick(rng, n, {"married": 0.605, "single": 0.281, "divorced": 0.112, "unknown": 0.002})
    marital[(age < 26) & (rng.random(n) < 0.7)] = "single"
    education = pick(
        rng,
        n,
        {
            "university.degree": 0.295,
            "high.school": 0.231,
            "basic.9y": 0.147,
            "professional.course": 0.127,
            "basic.4y": 0.101,
            "basic.6y": 0.056,
            "unknown": 0.042,
            "illiterate": 0.0005,
        },
    )
    default = pick(rng, n, {"no": 0.79, "unknown": 0.209, "yes": 0.0001})
    housing = pick(rng, n, {"yes": 0.524, "no": 0.452, "unknown": 0.024})
    loan = np.where(housing == "unknown", "unknown", pick(rng, n, {"no": 0.84, "yes": 0.16}))
    boom = macro["nr.employed"].to_numpy() > 5087
    contact = np.where(rng.random(n) < np.where(boom, 0.45, 0.12), "telephone", "cellular")
    dow = pick(rng, n, {"mon": 0.207, "tue": 0.196, "wed": 0.197, "thu": 0.209, "fri": 0.19})
    campaign = np.clip(rng.geometric(0.42, n), 1, 56)
    tail = rng.random(n) < 0.01
    campaign[tail] = rng.integers(10, 57, int(tail.sum()))
    # earlier campaigns: mostly in the slump
    previous = np.where(rng.random(n) < np.where(boom, 0.07, 0.45), rng.geometric(0.6, n), 0)
    previous = np.clip(previous, 0, 7)
    p_success = np.where(previous > 0, np.where(boom, 0.08, 0.38), 0)
    success = rng.random(n) < p_success
    poutcome = np.where(previous == 0, "nonexistent", np.where(success, "success", "failure"))
    pdays = np.full(n, 999)
    contacted = success | ((previous > 0) & (rng.random(n) < 0.03))
    pdays[contacted] = np.clip(np.round(rng.gamma(2.0, 3.0, contacted.sum())), 0, 27)

    nr = macro["nr.employed"].to_numpy()
    cci = macro["cons.conf.idx"].to_numpy()
    logit = (
        2.4 * sigmoid((5087 - nr) / 6)  # a threshold on employment
        + 0.9 * sigmoid((1.5 - euribor) / 0.08)  # ... and on the interest rate
        + 0.035 * (cci + 40)  # mild, linear
        + 1.6 * success
        + 0.5 * (contacted & ~success)
        - 0.25 * (previous > 0) * ~success
        - 0.55 * (contact == "telephone")
        - 0.09 * (campaign - 1)
        + 0.55 * (age < 25)
        + 0.7 * (age > 60)
        + pd.Series(job)
        .map(
            {
                "student": 0.45,
                "retired": 0.35,
                "blue-collar": -0.3,
                "services": -0.15,
                "entrepreneur": -0.1,
                "admin.": 0.05,
            }
        )
        .fillna(0)
        .to_numpy()
        - 0.35 * (default == "unknown")
        + pd.Series(macro["month"])
        .map({"mar": 0.9, "dec": 0.6, "oct": 0.5, "sep": 0.4, "may": -0.35, "nov": -0.15})
        .fillna(0)
        .to_numpy()
        + pd.Series(dow).map({"mon": -0.12, "thu": 0.08}).fillna(0).to_numpy()
        + 0.1 * (education == "university.degree")
        + 0.3 * (education == "illiterate")
    )
    p = sigmoid(logit + calibrate_intercept(logit, 0.113))
    y = rng.random(n) < p
    # call duration: known only once the call ended, longer when it converts (the classic leak)
    duration = np.where(
        y,
        np.round(rng.lognormal(np.log(480), 0.55, n)),
        np.round(rng.lognormal(np.log(170), 0.75, n)),
    ).astype(int)
    duration = np.clip(duration, 0, 4918)
    duration[rng.random(n) < 0.0005] = 0

    return p, pd.DataFrame(
        {
            "age": age,
            "job": job,
            "marital": marital,
            "education": education,
            "default": default,
            "housing": housing,
            "loan": loan,
            "contact": contact,
            "month": macro["month"].to_numpy(),
            "day_of_week": dow,
            "duration": duration,
            "campaign": campaign,
            "pdays": pdays,
            "previous": previous,
            "poutcome": poutcome,
            "emp.var.rate": macro["emp.var.rate"].to_numpy(),
            "cons.price.idx": macro["cons.price.idx"].to_numpy(),
            "cons.conf.idx": macro["cons.conf.idx"].to_numpy(),
            "euribor3m": euribor,
            "nr.employed": nr,
            "y": np.where(y, "yes", "no"),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--out", type=Path, default=WORK, help="folder of the xedu/ and bank/ folders")
    ap.add_argument("--seed", type=int, default=20240611)
    args = ap.parse_args()
    out = args.out
    rng = np.random.default_rng(args.seed)

    px, x = xedu(rng)
    (out / "xedu").mkdir(parents=True, exist_ok=True)
    x.to_csv(out / "xedu" / "leads.csv", index=False)
    # the true conversion probability of each data row (1 = first), never read by Readiness:
    # the ceiling any model can reach on this draw
    pd.DataFrame({"row": np.arange(1, len(x) + 1), "p_true": px}).to_csv(
        out / "xedu" / "_truth.csv", index=False
    )
    print(f"xedu/leads.csv: {len(x)} rows, {x['Converted'].mean():.1%} converted")

    pb, b = bank(rng)
    (out / "bank").mkdir(parents=True, exist_ok=True)
    b.to_csv(out / "bank" / "contacts.csv", index=False, sep=";", quoting=2)  # QUOTE_NONNUMERIC
    pd.DataFrame({"row": np.arange(1, len(b) + 1), "p_true": pb}).to_csv(
        out / "bank" / "_truth.csv", index=False
    )
    print(f"bank/contacts.csv: {len(b)} rows (';'-separated), {(b['y'] == 'yes').mean():.1%} yes")


if __name__ == "__main__":
    main()
