"""示例结算数据 Synthetic claims of the demo county, imported and settled through the real code.

``demo_settlement_build`` stores the demo policy (``demo-2026``-style: the ``transition-2024``
preset re-dated to the demo year, titled as illustrative), writes a claims CSV (a few thousand
stays: township centres, county hospitals, out-of-county hospitals with and without referral;
realistic amounts), imports it with ``claims_import`` (the code of ``jkfp import-claims``) and
settles it with ``claims_settle_year`` (``jkfp settle-claims``); a few more claims are settled at
the window with ``claim_submit`` (with traces) and one is reversed. Some ill persons get several
large stays so that their yearly own payment passes the monitoring thresholds (5,000 yuan for
poor/monitored/tekun/dibao, 20,000 for others; domain.md §8). Same seed → same file → running it
again changes nothing.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from jkfp.engine import county_subsidy, preset_text
from jkfp.regions.models import Institution, Region, prefix_range
from jkfp.registry.models import Person, Tag
from jkfp.settlement.bulk import claims_settle_year
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import (
    Admission,
    BankAccount,
    Claim,
    ClaimAttachment,
    ClaimStatus,
    Payment,
    PaymentBatch,
    Settlement,
    YearLedger,
)
from jkfp.settlement.services import claim_reverse, claim_submit, policy_install_preset, policy_upload
from jkfp.settlement.subsidies import (
    bank_account_set,
    batch_approve,
    batch_bank_file,
    batch_create,
    batch_return_apply,
    elsewhere_register,
)

HEADER = (
    "claim_id",
    "person_id",
    "institution_code",
    "admit_date",
    "discharge_date",
    "referred",
    "total",
    "out_of_scope",
)
TARGET = ("poor", "monitored", "tekun", "dibao")


@dataclass
class DemoSettlement:
    """What the demo hook did."""

    policy: str = ""
    claims: int = 0
    created: int = 0
    settled: int = 0
    window: int = 0
    persons_over_threshold: int = 0

    def text(self) -> str:
        return (
            f"政策 {self.policy}；结算申请 {self.claims} 笔（新增 {self.created}，批量结算 {self.settled}，窗口结算 "
            f"{self.window}）；个人负担超监测线 {self.persons_over_threshold} 人 / policy {self.policy}; "
            f"{self.claims} claims ({self.created} new, {self.settled} batch-settled, {self.window} at the window); "
            f"{self.persons_over_threshold} persons over the monitoring threshold"
        )


NEIGHBOUR_SHARE = 0.25  # county-hospital stays of a demo city's residents in a neighbouring county's hospital
DEMO_PRESET = "transition-2024"  # the demo's illustrative policy is a re-dated copy of it
BASIC_RATIOS = (("1", "0.90"), ("2", "0.80"), ("3", "0.70"))
BASIC_RATIO_LINE = "ratio = { " + ", ".join(f'"{k}" = "{v}"' for k, v in BASIC_RATIOS) + " }"
DEMO_COUNTY = "421321"  # the demo's own county: its claim numbers stay as they always were


def demo_claim_id(county_code: str, claim_id: str) -> str:
    """示例结算号 A demo claim number of ``county_code``: the county's code in front, except for the
    demo's own county (a city of several demo counties, issue 21, needs distinct numbers)."""
    return claim_id if county_code == DEMO_COUNTY else f"{county_code}{claim_id}"


def _amount(rng: random.Random, lo: float, hi: float) -> int:
    """Fen, log-uniform between lo and hi yuan."""

    return round(math.exp(rng.uniform(math.log(lo), math.log(hi))) * 100)


def demo_claims_write(
    *, path: Path, county_code: str, year: int, today: date, claims: int = 3000, seed: int = 4
) -> int:
    """写示例结算申请 Write the demo claims CSV; returns the number of rows."""
    rng = random.Random(seed)
    lo, hi = prefix_range(county_code)
    persons = list(
        Person.objects.filter(village_id__gte=lo, village_id__lt=hi)
        .order_by("id")
        .values_list("id", "id_number", "birth_date")
    )
    if not persons or today <= date(year, 1, 2):
        return 0
    tagged = set(
        Tag.objects.filter(
            person__village_id__gte=lo, person__village_id__lt=hi, code__in=TARGET
        ).values_list("person_id", flat=True)
    )
    ill = set(
        Person.objects.filter(village_id__gte=lo, village_id__lt=hi, conditions__isnull=False).values_list(
            "id", flat=True
        )
    )
    targets = [p for p in persons if p[0] in tagged]
    heavy = [p for p in targets if p[0] in ill][:40] or targets[:40]
    institutions = list(
        Institution.objects.order_by("code").values_list("code", "level", "in_county", "region_id")
    )

    def mine(region: str | None) -> bool:
        # an in-county institution without a region is the county's own (a one-county deployment)
        return region is None or lo <= region < hi

    township = [c for c, lvl, inside, r in institutions if inside and lvl == "1" and mine(r)]
    county = [c for c, lvl, inside, r in institutions if inside and lvl in ("2", "3") and mine(r)]
    # Other counties' hospitals of the same deployment (a demo city, issue 21) treat some residents too.
    neighbours = [c for c, lvl, inside, r in institutions if inside and lvl == "2" and not mine(r)]
    outside = [c for c, _, inside, _ in institutions if not inside]
    last_day = min(today - timedelta(days=1), date(year, 12, 31))
    span = (last_day - date(year, 1, 1)).days
    rows: list[tuple[str, ...]] = []

    def add(person: tuple[int, str, date], kind: str, k: int) -> None:
        if kind == "county" and neighbours and rng.random() < NEIGHBOUR_SHARE:
            code, total = rng.choice(neighbours), _amount(rng, 2000, 20000)
        elif kind == "township" and township:
            code, total = rng.choice(township), _amount(rng, 400, 4000)
        elif kind == "county" and county:
            code, total = rng.choice(county), _amount(rng, 2000, 20000)
        elif outside:
            code, total = rng.choice(outside), _amount(rng, 8000, 150000)
        else:
            code, total = rng.choice(institutions)[0], _amount(rng, 1000, 20000)
        discharge = date(year, 1, 1) + timedelta(days=rng.randint(1, max(1, span)))
        admit = max(person[2], discharge - timedelta(days=rng.randint(2, 20)))
        oos = total * rng.choice((0, 2, 5, 8, 12, 20)) // 100
        referred = "" if code not in outside else rng.choice(("1", "1", "1", "0"))
        rows.append(
            (demo_claim_id(county_code, f"DEMO{year}{k:06d}"), person[1], code, admit.isoformat(), discharge.isoformat(), referred,
             f"{total // 100}.{total % 100:02d}", f"{oos // 100}.{oos % 100:02d}")
        )  # fmt: skip

    k = 0
    for person in heavy:  # several large stays: the monitoring scan must find these
        for _ in range(rng.randint(2, 4)):
            k += 1
            add(person, rng.choice(("county", "outside", "outside")), k)
    while k < claims:
        k += 1
        person = rng.choice(targets) if targets and rng.random() < 0.7 else rng.choice(persons)
        add(person, rng.choices(("township", "county", "outside"), weights=(50, 42, 8))[0], k)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return len(rows)


def demo_county_policy(*, county_code: str, index: int, today: date) -> str:
    """县级示例政策 The demo city's county ``index`` gets its own policy for the year (issue 21): the demo's
    illustrative policy with the basic-insurance ratios ``index`` points lower, bound to the county.
    Returns its label. Installed through ``policy_upload`` (the code of ``jkfp policy install --region``);
    running it again changes nothing."""
    year = today.year
    region = Region.objects.get(code=county_code)
    lowered = [f'"{level}" = "{Decimal(base) - Decimal(index) / 100:.2f}"' for level, base in BASIC_RATIOS]
    text = preset_text(
        DEMO_PRESET,
        as_name=f"demo-{year}-{county_code}",
        title=f"{region.name}{year}年结算政策（演示用，基本医保报销比例低{index}个百分点）",
        year=year,
        lines={BASIC_RATIO_LINE: f"ratio = {{ {', '.join(lowered)} }}"},
    )
    return policy_upload(text=text, fmt="toml", region=region).label


def demo_settlement_build(
    *, out_dir: Path, county_code: str, today: date | None = None, errors_dir: Path | None = None
) -> DemoSettlement:
    """示例结算 Policy, claims, batch settlement and a few window settlements for the demo year."""
    today = today or timezone.localdate()
    year = today.year
    result = DemoSettlement()
    policy = policy_install_preset(
        name=DEMO_PRESET,
        as_name=f"demo-{year}",
        year=year,
        title=f"示例县{year}年结算政策（演示用，参数为示意值，复制自 transition-2024）",
    )
    result.policy = policy.label
    path = out_dir / f"结算申请{year}.csv"
    result.claims = demo_claims_write(path=path, county_code=county_code, year=year, today=today)
    if result.claims == 0:
        return result
    summary = claims_import(path=path, errors_dir=errors_dir)
    result.created = summary.created
    result.settled = claims_settle_year(year=year).settled
    result.window = _window_claims(county_code=county_code, year=year, today=today)
    lo, hi = prefix_range(county_code)
    tagged = Tag.objects.filter(code__in=TARGET).values("person_id")
    over_low = YearLedger.objects.filter(
        year=year,
        personal_ytd__gte=5000,
        person_id__in=tagged,
        person__village_id__gte=lo,
        person__village_id__lt=hi,
    ).count()
    over_general = (
        YearLedger.objects.filter(
            year=year, personal_ytd__gte=20000, person__village_id__gte=lo, person__village_id__lt=hi
        )
        .exclude(person_id__in=tagged)
        .count()
    )
    result.persons_over_threshold = over_low + over_general
    return result


def _window_claims(*, county_code: str, year: int, today: date) -> int:
    """A few claims settled one by one at the county hospital's window (traces stored), one reversed."""
    if Claim.objects.filter(claim_id__startswith=demo_claim_id(county_code, f"WIN{year}")).exists():
        return 0
    lo, hi = prefix_range(county_code)
    hospital = (
        Institution.objects.filter(in_county=True, level="2", region_id__gte=lo, region_id__lt=hi)
        .order_by("code")
        .first()
    )
    if hospital is None:
        return 0
    persons = list(
        Person.objects.filter(village_id__gte=lo, village_id__lt=hi, tags__code__in=TARGET)
        .distinct()
        .order_by("id")[:12]
    )
    rng = random.Random(9)
    made = 0
    last_day = min(today - timedelta(days=1), date(year, 12, 31))
    for k, person in enumerate(persons, start=1):
        discharge = last_day - timedelta(days=rng.randint(0, 20))
        admit = max(person.birth_date, discharge - timedelta(days=rng.randint(3, 12)))
        total = _amount(rng, 4000, 30000)
        oos = total * 3 // 100
        admission = Admission.objects.create(
            person=person,
            institution=hospital,
            admitted_on=admit,
            deferred_payment=True,
            agreement_signed_on=admit,
            deposit_waived_amount=3000 if k % 2 else 2000,
        )
        claim_submit(
            claim_id=demo_claim_id(county_code, f"WIN{year}{k:04d}"),
            person=person,
            institution=hospital,
            admitted_on=admit,
            discharged_on=discharge,
            total_amount=f"{total // 100}.{total % 100:02d}",
            out_of_scope_amount=f"{oos // 100}.{oos % 100:02d}",
            admission=admission,
            source="window",
        )
        made += 1
    first = Claim.objects.filter(
        claim_id=demo_claim_id(county_code, f"WIN{year}0001"), status=ClaimStatus.SETTLED
    ).first()
    if first is not None:
        claim_reverse(claim=first, reason="演示：重复登记，冲销")
    return made


def demo_settlement_reset(*, county_code: str) -> None:
    """删除示例结算 Delete the settlements, claims, admissions and ledgers of the demo county's persons."""
    lo, hi = prefix_range(county_code)
    person_q = {"person__village_id__gte": lo, "person__village_id__lt": hi}
    with transaction.atomic():
        demo_subsidies_reset(county_code=county_code)
        Settlement.objects.filter(
            claim__person__village_id__gte=lo, claim__person__village_id__lt=hi
        ).delete()
        Claim.objects.filter(**person_q).delete()
        Admission.objects.filter(**person_q).delete()
        YearLedger.objects.filter(**person_q).delete()


@dataclass
class DemoSubsidies:
    """What the 事后补助 demo did."""

    stays: int = 0
    paid: int = 0
    failed: int = 0
    awaiting: int = 0
    paid_amount: str = "0.00"

    def text(self) -> str:
        return (
            f"事后补助：省级医院住院 {self.stays} 笔，已打卡发放 {self.paid} 笔 {self.paid_amount} 元，"
            f"发放失败 {self.failed} 笔，待审批 {self.awaiting} 笔 / subsidies: {self.stays} stays settled elsewhere, "
            f"{self.paid} paid ({self.paid_amount} yuan), {self.failed} failed, {self.awaiting} awaiting approval"
        )


def demo_subsidies_build(
    *, county_code: str, today: date, maker: Any, checker: Any, out_dir: Path
) -> DemoSubsidies:
    """示例事后补助 A few stays at a provincial hospital registered from their insurance slips (§7),
    the persons' bank cards, one batch made by ``maker``, approved by ``checker`` and returned by the
    bank (one card frozen), and a second batch — the failed subsidy again and two new ones — made by
    ``checker`` and awaiting ``maker``'s approval. Through the real services; runs once per year."""
    result = DemoSubsidies()
    year = today.year
    if Claim.objects.filter(claim_id__startswith=demo_claim_id(county_code, f"SZ{year}")).exists():
        return result
    hospital = Institution.objects.filter(in_county=False, level="3").order_by("code").first()
    if hospital is None:
        hospital = Institution.objects.create(
            code="P420000001", name="湖北省人民医院（演示）", level="3", in_county=False
        )
    lo, hi = prefix_range(county_code)
    persons = list(
        Person.objects.filter(village_id__gte=lo, village_id__lt=hi, tags__code__in=TARGET)
        .distinct()
        .order_by("-id")[:30]
    )
    rng = random.Random(19)
    first_day = date(year, 1, 1)
    last_day = min(today - timedelta(days=1), date(year, 12, 31))
    if len(persons) < 5 or last_day < first_day:
        return result
    claim_ids: list[int] = []  # claim keys
    paid_persons: list[Person] = []
    for k, person in enumerate(persons, start=1):
        if len(claim_ids) == 5:
            break
        discharge = max(first_day, last_day - timedelta(days=rng.randint(5, 60)))
        admit = max(person.birth_date, first_day, discharge - timedelta(days=rng.randint(7, 20)))
        total = _amount(rng, 40000, 150000)
        oos = total * rng.randint(4, 9) // 100
        in_scope = total - oos
        basic = in_scope * rng.randint(55, 65) // 100
        critical = (in_scope - basic) * rng.randint(30, 50) // 100
        row = elsewhere_register(
            user=maker,
            claim_id=demo_claim_id(county_code, f"SZ{year}{k:04d}"),
            person=person,
            institution=hospital,
            admitted_on=admit,
            discharged_on=discharge,
            total_amount=_yuan(total),
            out_of_scope_amount=_yuan(oos),
            basic_paid_amount=_yuan(basic),
            critical_paid_amount=_yuan(critical),
            referred=True,
        )
        result.stays += 1
        if county_subsidy(row.aid, row.supplementary) <= 0:
            continue  # nothing for the county to pay (e.g. a category without aid): no payment
        claim_ids.append(row.claim.pk)
        paid_persons.append(person)
        bank_account_set(person=person, account_no=f"62170042{rng.randint(10**10, 10**11 - 1)}", user=maker)
    if len(claim_ids) < 5:
        return result
    first = batch_create(user=maker, claims=claim_ids[:3], note=f"{year}年省级医院住院补助（第一批）")
    first = batch_approve(user=checker, batch=first)
    batch_bank_file(user=checker, batch=first, path=out_dir / f"银行发放文件-{first.batch_no}.xlsx")
    returned = out_dir / f"银行回盘-{first.batch_no}.csv"
    with returned.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("身份证号", "金额", "结果", "原因"))
        for k, payment in enumerate(first.payments.select_related("person").order_by("id")):
            failed = k == 2
            writer.writerow(
                (
                    payment.person.id_number,
                    f"{payment.amount:.2f}",
                    "失败" if failed else "成功",
                    "账户已冻结" if failed else "",
                )
            )
    applied = batch_return_apply(user=checker, batch=first, path=returned)
    result.paid, result.failed = applied.paid, applied.failed
    paid = sum((p.amount for p in first.payments.filter(status="paid")), Decimal("0.00"))
    result.paid_amount = f"{paid:.2f}"
    frozen = paid_persons[2]
    bank_account_set(person=frozen, account_no=f"62300042{rng.randint(10**10, 10**11 - 1)}", user=checker)
    second = batch_create(
        user=checker, claims=claim_ids[2:], note=f"{year}年省级医院住院补助（第二批，含重发）"
    )
    result.awaiting = second.payments.count()
    return result


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def demo_subsidies_reset(*, county_code: str) -> None:
    """删除示例事后补助 Payments, batches (they protect their makers' accounts), bank accounts and slip
    scans of the demo county."""
    lo, hi = prefix_range(county_code)
    person_q = {"person__village_id__gte": lo, "person__village_id__lt": hi}
    with transaction.atomic():
        Payment.objects.filter(**person_q).delete()
        PaymentBatch.objects.filter(county_id__gte=lo, county_id__lt=hi).delete()
        BankAccount.objects.filter(**person_q).delete()
        ClaimAttachment.objects.filter(
            claim__person__village_id__gte=lo, claim__person__village_id__lt=hi
        ).delete()
