"""Generate `demo/history.csv`: SYNTHETIC labelled support cases for the demo catalogue.

Nothing here is real customer data. Cases are built, deterministically from a seed, out of
per-component symptom phrases, customer phrasing, order numbers and number plates, typos,
and a little chaos: about a third name the component (by name or alias), many name
nothing, some mention a second squad's component, and about 5% carry a wrong label (as real
history does). The label is the owner of the component the case is about.

    python -m scripts.generate_history --out demo/history.csv --seed 7 --rows 4000
"""

from __future__ import annotations

import argparse
import csv
import random
import string
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contracts.catalogue import Catalogue, load_catalogue

LABEL_NOISE = 0.05
NAME_COMPONENT = 0.33
SECOND_COMPONENT = 0.08
TYPO_RATE = 0.04

SYMPTOMS: dict[str, list[str]] = {
    "checkout-api": [
        "the checkout spins forever after I click pay and reserve",
        "I get an error on the last step when placing the order",
        "the reserve button does nothing, the car is not reserved",
        "checkout page crashes with something went wrong",
        "stuck on the deposit step, cannot continue to confirmation",
    ],
    "basket-service": [
        "the warranty I added disappeared from my basket",
        "cannot remove the floor mats from the cart",
        "my cart is empty after logging back in",
        "the basket shows two cars but I only picked one",
    ],
    "order-service": [
        "my order status still says processing after a week",
        "I never got an order number",
        "I want to cancel my order but there is no button",
        "there are two identical orders on my account",
        "order history is missing the car I bought",
    ],
    "promo-engine": [
        "the voucher code says invalid but it is in your email",
        "discount was not applied to the total",
        "the cashback offer is not shown at the end",
        "promo code from the newsletter does not work",
    ],
    "payment-gateway": [
        "my card was declined but the bank says everything is fine",
        "I was charged twice for the deposit",
        "the 3d secure window never loads",
        "apple pay fails every time",
        "bank transfer reference not accepted",
    ],
    "refund-service": [
        "still waiting for my deposit refund after 10 days",
        "you promised my money back but nothing arrived",
        "refund went to an old card that is closed",
        "refund shows pending forever",
    ],
    "fraud-screening": [
        "my payment was blocked as suspicious",
        "order on hold for manual review, nobody explains why",
        "we flagged a customer as fraud by mistake",
        "the risk check stops every order from this postcode",
    ],
    "invoice-service": [
        "the invoice has the wrong company name",
        "I need a VAT invoice for my business",
        "receipt pdf is blank",
        "billing address on the invoice is wrong",
    ],
    "search-api": [
        "search shows no results for BMW 3 series",
        "the mileage filter is ignored",
        "sort by price lowest first is random",
        "filters reset every time I go back",
        "results show petrol cars when I filter diesel",
    ],
    "listing-page": [
        "the car page will not load, just a white screen",
        "the spec sheet says automatic but it is manual",
        "equipment list is empty on the detail page",
        "gallery arrows do not work on the car page",
    ],
    "saved-searches": [
        "my favourites list is gone",
        "price drop alerts stopped coming",
        "cannot save my search",
        "alerts for new matches arrive for cars I never searched",
    ],
    "recommendation-engine": [
        "the similar cars section shows vans when I look at a hatchback",
        "you may also like carousel is empty",
        "recommended cars are all sold",
    ],
    "inventory-service": [
        "the car I reserved shows as sold",
        "a sold car is still showing as available",
        "it says someone else reserved my car",
        "the VIN on the site does not match the car",
        "car shows in stock but the hub says it left last week",
    ],
    "pricing-engine": [
        "the price changed between the listing and checkout",
        "price on the site is wrong, it was 1000 lower yesterday",
        "price mismatch between app and website",
        "prices did not update after the overnight run",
    ],
    "vehicle-import": [
        "cars from the dealer feed are missing since the weekend",
        "the import job failed for the auction batch",
        "trim level decoded wrong from the VIN",
        "dealer stock upload did not appear",
    ],
    "photo-pipeline": [
        "the pictures show a different car",
        "photos missing on half the listings",
        "the 360 spin is broken",
        "images are blurry and stretched",
    ],
    "account-service": [
        "I cannot change my address in my account",
        "please delete my account and my data",
        "my profile shows someone else's phone number",
        "I want to unsubscribe from marketing but the toggle does not save",
    ],
    "notification-service": [
        "I never received the confirmation email",
        "text messages about my delivery never arrive",
        "emails go to the spam folder",
        "push notifications stopped on android",
    ],
    "document-vault": [
        "upload of my driving licence keeps failing",
        "proof of address rejected without a reason",
        "cannot see my signed documents",
        "the id upload says file too large for a small photo",
    ],
    "reviews-service": [
        "my review was never published",
        "the rating shows one star but I gave five",
        "feedback survey link is broken",
    ],
    "delivery-scheduler": [
        "no delivery slots available for weeks",
        "I need to reschedule my delivery date",
        "booked a handover slot but it vanished",
        "the collection slot picker is empty",
    ],
    "carrier-integration": [
        "the truck driver did not show up",
        "the transporter says they never got the job",
        "carrier status updates stopped coming in",
    ],
    "tracking-service": [
        "where is my car, the tracking link shows nothing",
        "the ETA has said 2 hours since this morning",
        "tracking page error 404",
        "delivery delayed and tracking not updated",
    ],
    "returns-portal": [
        "I want to return the car within 14 days",
        "return request form will not submit",
        "nobody collected the car for the return",
        "the money back guarantee page errors",
    ],
    "finance-quote": [
        "the monthly payment changed at the last step",
        "the APR shown is different from the quote",
        "finance calculator does not load",
        "balloon payment looks wrong on the PCP offer",
    ],
    "credit-check": [
        "my finance application was declined instantly",
        "the credit check has been pending for two days",
        "you did a hard search without asking",
        "credit score check failed with an error",
    ],
    "loan-contracts": [
        "I cannot sign the finance agreement",
        "the e-signature link expired",
        "the contract has the wrong car on it",
        "lender says they never received the agreement",
    ],
    "part-exchange": [
        "the valuation of my car is far too low",
        "registration lookup does not find my car",
        "trade in offer disappeared from my order",
        "part exchange value not deducted from the price",
    ],
    "identity-provider": [
        "I cannot log in, it says wrong password",
        "password reset email link does not work",
        "the verification code never arrives",
        "locked out of my account after 3 tries",
        "sign in with google loops back to the start",
    ],
    "api-gateway": [
        "the whole site shows 502 bad gateway",
        "getting too many requests errors in the app",
        "site down for everyone in the office",
        "certificate error in the browser",
    ],
    "feature-flags": [
        "half of customers see the old checkout design",
        "the experiment shows the new page to everybody",
        "toggle for the new finance banner not working",
    ],
}
OPENERS = [
    "",
    "",
    "Hi,",
    "Hello team,",
    "Hi there",
    "Customer called:",
    "Agent note:",
    "Good morning,",
    "URGENT",
    "Dear support,",
    "Chat transcript:",
    "Escalated from L1:",
]
DETAILS = [
    "since this morning",
    "on the app",
    "on my iPhone",
    "on the website",
    "tried twice",
    "cleared cookies already",
    "happens every time",
    "customer is very upset",
    "on android",
    "since yesterday evening",
    "for order {order}",
    "car reg {reg}",
    "order {order}, reg {reg}",
    "after the update",
    "intermittently",
    "",
]
CLOSERS = [
    "",
    "",
    "Thanks",
    "Please help",
    "Regards, {name}",
    "thx",
    "Can someone look?",
    "Customer wants a call back.",
    "Please advise asap",
]
NAMED = [
    "looks like {alias} is failing",
    "I think it is the {alias}",
    "{alias} problem?",
    "error mentions {alias}",
    "maybe related to {alias}",
]
SECOND = ["also {symptom}", "and {symptom} as well", "plus {symptom}, not sure if related"]
NAMES = ["Sam", "Alex", "Priya", "Jonas", "Maria", "Tom", "Aisha", "Lee", "Noor", "Ben"]
PRIORITIES = (["P1"] * 2) + (["P2"] * 15) + (["P3"] * 60) + (["P4"] * 23)
SOURCES = ["web", "web", "email", "email", "chat", "phone", "crm", "api", "monitoring"]


def _typos(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) > 3 and rng.random() < TYPO_RATE:
            j = rng.randrange(len(word) - 1)
            kind = rng.random()
            if kind < 0.4:
                word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
            elif kind < 0.7:
                word = word[:j] + word[j + 1 :]
            else:
                word = word[:j] + word[j] + word[j:]
            words[i] = word
    return " ".join(words)


def _fill(text: str, rng: random.Random) -> str:
    letters = string.ascii_uppercase
    area = "".join(rng.choices(letters, k=2))
    reg = f"{area}{rng.randint(10, 75)} {''.join(rng.choices(letters, k=3))}"
    return text.format(order=f"ORD-{rng.randint(100000, 999999)}", reg=reg, name=rng.choice(NAMES))


def _case(catalogue: Catalogue, comps: list[str], rng: random.Random) -> tuple[str, str, str]:
    name = rng.choice(comps)
    comp = catalogue.components[name]
    symptom = rng.choice(SYMPTOMS[name])
    parts = [rng.choice(OPENERS), symptom[0].upper() + symptom[1:] + ".", rng.choice(DETAILS)]
    if rng.random() < NAME_COMPONENT:
        alias = rng.choice([comp.name, comp.title, *comp.aliases])
        parts.append(rng.choice(NAMED).format(alias=alias))
    if rng.random() < SECOND_COMPONENT:
        other = rng.choice([c for c in comps if catalogue.components[c].owner != comp.owner])
        parts.append(rng.choice(SECOND).format(symptom=rng.choice(SYMPTOMS[other])))
    parts.append(rng.choice(CLOSERS))
    description = _typos(_fill(" ".join(p for p in parts if p), rng), rng)
    title = symptom if rng.random() < 0.7 else " ".join(symptom.split()[:5])
    if rng.random() < 0.15:
        title = rng.choice(["Help", "Problem", "Issue with my order", "Complaint", ""])
    return _typos(title[:1].upper() + title[1:], rng), description, str(comp.owner)


def generate(catalogue: Catalogue, rows: int, seed: int, *, progress: bool = False) -> list[dict]:
    """Build `rows` synthetic labelled cases for `catalogue` (deterministic for a seed)."""
    rng = random.Random(seed)
    comps = sorted(n for n, c in catalogue.components.items() if c.owner and n in SYMPTOMS)
    # some components see far more cases than others
    weights = {n: rng.choice([1, 1, 2, 3, 5]) for n in comps}
    pool = [n for n in comps for _ in range(weights[n])]
    squads = sorted({str(catalogue.components[n].owner) for n in comps})
    start = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    indices: Iterable[int] = range(rows)
    if progress:
        from rich.progress import track

        indices = track(indices, description="generating cases")
    out = []
    for i in indices:
        title, description, squad = _case(catalogue, pool, rng)
        if rng.random() < LABEL_NOISE:
            squad = rng.choice([s for s in squads if s != squad])
        created = start + timedelta(minutes=int(i * 131 + rng.randint(0, 120)))
        out.append(
            {
                "id": f"HIST-{i + 1:05d}",
                "title": title,
                "description": description,
                "squad": squad,
                "priority": rng.choice(PRIORITIES),
                "source": rng.choice(SOURCES),
                "created_at": created.isoformat().replace("+00:00", "Z"),
            }
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue", type=Path, default=Path("demo/catalogue"))
    parser.add_argument("--out", type=Path, default=Path("demo/history.csv"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rows", type=int, default=4000)
    args = parser.parse_args(argv)
    catalogue = load_catalogue(args.catalogue)
    rows = generate(catalogue, args.rows, args.seed, progress=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} synthetic cases to {args.out}")


if __name__ == "__main__":
    main()
