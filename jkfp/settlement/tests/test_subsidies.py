"""事后补助 Stays settled elsewhere (settlement.md §7) and the payment batches (打卡发放): the §8
example through the registration and through ``import-claims`` + ``settle-claims``, the year-to-date
shared with one-stop stays, and the whole batch flow — compute → batch → approve → bank file →
return file → paid/failed → re-batch — with every way of paying twice refused."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from jkfp import engine
from jkfp.accounts.models import AuditAction, AuditEvent
from jkfp.core.tabular import read_table
from jkfp.settlement import bulk, subsidies
from jkfp.settlement.clearing import clearing_statement
from jkfp.settlement.imports import claims_import
from jkfp.settlement.models import (
    BatchStatus,
    Claim,
    ClaimAttachment,
    Payment,
    PaymentBatch,
    PaymentStatus,
    Settlement,
)
from jkfp.settlement.tests.factories import SettleWorld, amounts, submit

# settlement.md §8 example 8: A (poor), 2020-08-01, level 3, out of county, referred, total 80000.00,
# out_of_scope 6000.00, basic_paid 44400.00, critical_paid 15000.00.
EXAMPLE_8 = ("80000.00", "0.00", "44400.00", "15000.00", "10220.00", "5380.00", "5000.00")
PDF = b"%PDF-1.4\n% insurance slip\n" + b"0" * 200


class Upload:
    """A stand-in for Django's UploadedFile: name, size, chunks."""

    def __init__(self, name: str, data: bytes) -> None:
        self.name = name
        self.size = len(data)
        self._data = data

    def chunks(self, chunk_size: int | None = None) -> Any:
        yield self._data


def register(w: SettleWorld, claim_id: str, person: str, day: date, total: str, oos: str, basic: str,
             critical: str, *, user: str = "admin", **kw: Any) -> Settlement:  # fmt: skip
    return subsidies.elsewhere_register(
        user=w.users[user],
        claim_id=claim_id,
        person=w.persons[person],
        institution=w.institutions["out3"],
        admitted_on=kw.pop("admitted", day),
        discharged_on=day,
        total_amount=total,
        out_of_scope_amount=oos,
        basic_paid_amount=basic,
        critical_paid_amount=critical,
        **kw,
    )


def reference(
    w: SettleWorld, items: list[tuple[str, str, date, str, str, bool, str | None, str | None]]
) -> Any:
    """The reference engine's results for claims (id, person, day, total, oos, referred, basic, critical) of
    the poor category at the out-of-county level-3 hospital, settled in order."""
    policy = engine.load_preset("suixian-2020")
    return engine.settle_in_order(
        [
            (
                policy,
                engine.Claim(
                    claim_id=cid,
                    person_id=w.persons[p].id_number,
                    category="poor",
                    discharge_on=day,
                    level=3,
                    in_county=False,
                    referred=ref,
                    total_amount=Decimal(total),
                    out_of_scope_amount=Decimal(oos),
                    basic_paid_amount=None if b is None else Decimal(b),
                    critical_paid_amount=None if c is None else Decimal(c),
                ),
            )
            for cid, p, day, total, oos, ref, b, c in items
        ]
    )


# --------------------------------------------------------------------------- registration


def test_example_8_registered_from_the_slip_settles_to_the_fen(
    sw: SettleWorld, settings: Any, tmp_path: Path
) -> None:
    settings.VAR_DIR = tmp_path
    row = register(sw, "SZ-8", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00",
                   referred=True, attachment=Upload("结算单.pdf", PDF))  # fmt: skip
    assert amounts(row) == EXAMPLE_8
    claim = Claim.objects.get(claim_id="SZ-8")
    assert (claim.basic_paid_amount, claim.critical_paid_amount) == (Decimal("44400.00"), Decimal("15000.00"))
    assert subsidies.subsidy_amount(row) == Decimal("15600.00")  # aid 10220.00 + safety net 5380.00
    attachment = ClaimAttachment.objects.get(claim=claim)
    stored = tmp_path / attachment.stored_path
    assert stored.read_bytes() == PDF and attachment.content_type == "application/pdf"
    assert attachment.original_name == "结算单.pdf" and stored.name != "结算单.pdf"
    assert AuditEvent.objects.filter(action=AuditAction.SETTLE, object_id="SZ-8").count() == 1


def test_registration_shares_the_year_to_date_with_one_stop_stays(sw: SettleWorld) -> None:
    """A one-stop stay earlier in the year, then a stay settled elsewhere, then one discharged between
    them registered late: the chain is re-settled in order, equal to the reference engine."""
    submit(sw, "YS-1", "poor1", "out3", date(2020, 3, 1), "20000.00", "1000.00", referred=True)
    register(
        sw, "SZ-2", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    register(
        sw, "SZ-1", "poor1", date(2020, 5, 1), "30000.00", "2000.00", "18000.00", "3000.00", referred=False
    )
    expected = reference(
        sw,
        [
            ("YS-1", "poor1", date(2020, 3, 1), "20000.00", "1000.00", True, None, None),
            ("SZ-1", "poor1", date(2020, 5, 1), "30000.00", "2000.00", False, "18000.00", "3000.00"),
            ("SZ-2", "poor1", date(2020, 8, 1), "80000.00", "6000.00", True, "44400.00", "15000.00"),
        ],
    )
    got = [Settlement.objects.get(claim__claim_id=c, is_current=True) for c in ("YS-1", "SZ-1", "SZ-2")]
    assert [amounts(s) for s in got] == [tuple(f"{a:.2f}" for a in r.amounts) for r in expected]
    assert got[2].ytd_after_fen == expected[2].ytd_after.as_fen()
    # basic and critical are what the slips say, whatever the year had paid before
    assert (got[1].basic, got[1].critical) == (Decimal("18000.00"), Decimal("3000.00"))


def test_clearing_leaves_out_stays_settled_elsewhere(sw: SettleWorld) -> None:
    """The hospital's month in the clearing statement counts its one-stop stays only: a stay the
    insurance platform settled (§7) is paid to the person's card (事后补助), not owed to the hospital."""
    submit(sw, "YS-8", "poor1", "out3", date(2020, 8, 3), "20000.00", "1000.00", referred=True)
    register(
        sw, "SZ-8", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    one_stop = Settlement.objects.get(claim__claim_id="YS-8", is_current=True)
    rows = clearing_statement(month="2020-08")
    assert [(r.institution_code, r.claims, r.basic, r.critical, r.aid, r.supplementary) for r in rows] == [
        (
            one_stop.claim.institution_id,
            1,
            one_stop.basic,
            one_stop.critical,
            one_stop.aid,
            one_stop.supplementary,
        )
    ]


def test_registration_refuses_bad_input_naming_the_field(sw: SettleWorld) -> None:
    with pytest.raises(ValidationError) as err:
        register(sw, "SZ-X", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "60000.00", "15000.00")
    assert "basic_paid_amount" in err.value.message_dict or "critical_paid_amount" in err.value.message_dict
    assert "74000.00" in str(err.value)
    with pytest.raises(ValidationError) as err:
        register(sw, "SZ-X", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "", "15000.00")
    assert err.value.message_dict == {"basic_paid_amount": [subsidies.ERR_PAID_REQUIRED]}
    with pytest.raises(ValidationError) as err:
        register(
            sw,
            "SZ-X",
            "poor1",
            date(2020, 8, 1),
            "800.00",
            "0",
            "100",
            "0",
            attachment=Upload("a.pdf", b"GIF89a" + b"0" * 40),
        )
    assert err.value.message_dict == {
        "attachment": ["附件“a.pdf”类型不支持，只能上传 JPG、PNG 图片或 PDF 文件"]
    }
    with pytest.raises(PermissionDenied):
        register(sw, "SZ-X", "poor1", date(2020, 8, 1), "800.00", "0", "100", "0", user="hosp")
    with pytest.raises(PermissionDenied):  # a township user: not the county's subsidy office
        register(sw, "SZ-X", "poor1", date(2020, 8, 1), "800.00", "0", "100", "0", user="t1")
    assert not Claim.objects.filter(claim_id="SZ-X").exists()


def test_import_claims_and_settle_claims_give_example_8(sw: SettleWorld, tmp_path: Path) -> None:
    """The same stay through ``jkfp import-claims`` (basic_paid/critical_paid columns) and
    ``settle-claims`` (the year path: fetch.facts(year=…) → settle_year → store.save), next to an ordinary stay."""
    a, b = sw.persons["poor1"].id_number, sw.persons["poor2"].id_number
    path = tmp_path / "claims.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["结算号", "身份证号", "机构代码", "入院日期", "出院日期", "转诊备案", "医疗总费用",
                         "目录外费用", "基本医保已付", "大病保险已付"])  # fmt: skip
        writer.writerow(
            [
                "IM-8",
                a,
                "H900",
                "2020-07-20",
                "2020-08-01",
                "1",
                "80000.00",
                "6000.00",
                "44400.00",
                "15000.00",
            ]
        )
        writer.writerow(["IM-1", b, "H001", "2020-02-20", "2020-03-01", "", "20000.00", "1000.00", "", ""])
        writer.writerow(["IM-9", b, "H900", "2020-02-20", "2020-03-01", "1", "100.00", "0", "50.00", ""])
        writer.writerow(
            ["IM-10", b, "H900", "2020-02-20", "2020-03-01", "1", "100.00", "0", "80.00", "30.00"]
        )
    summary = claims_import(path=path, errors_dir=tmp_path)
    assert (summary.created, summary.invalid) == (2, 2)
    assert summary.errors_file is not None
    report = read_table(summary.errors_file, {"row": ("行号",), "column": ("列",), "reason": ("原因",)}, ())
    rows = list(report.rows())
    assert [(r["row"], r["column"]) for _, r in rows] == [("4", "大病保险已付"), ("5", "大病保险已付")]
    assert "100.00" in rows[1][1]["reason"]
    out = io.StringIO()
    call_command("settle_claims", "--year", "2020", "--json", stdout=out)  # `jkfp settle-claims`
    assert json.loads(out.getvalue())["settled"] == 2
    assert amounts(Settlement.objects.get(claim__claim_id="IM-8", is_current=True)) == EXAMPLE_8
    # the ordinary stay is §5 example 1
    assert amounts(Settlement.objects.get(claim__claim_id="IM-1", is_current=True)) == (
        "20000.00", "0.00", "14800.00", "0.00", "2940.00", "260.00", "2000.00"
    )  # fmt: skip


# --------------------------------------------------------------------------- the batch flow


def keys(*claim_ids: str) -> list[int]:
    """The keys of the claims with these ids (a batch names claims by key)."""
    return [Claim.objects.get(claim_id=c).pk for c in claim_ids]


def _accounts(w: SettleWorld) -> None:
    subsidies.bank_account_set(
        person=w.persons["poor1"], account_no="6217 0000 1111 2222 333", user=w.users["admin"]
    )
    subsidies.bank_account_set(person=w.persons["poor2"], account_no="6230000099998888", user=w.users["fund"])


def _return_file(path: Path, rows: list[tuple[str, str, str, str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["身份证号", "银行账号", "金额", "结果", "原因"])
        writer.writerows(rows)
    return path


def test_batch_flow_compute_batch_approve_bank_file_return_rebatch(sw: SettleWorld, tmp_path: Path) -> None:
    admin, fund = sw.users["admin"], sw.users["fund"]
    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    register(
        sw, "SZ-B", "poor2", date(2020, 9, 1), "30000.00", "2000.00", "18000.00", "3000.00", referred=False
    )
    expected_b = reference(
        sw, [("SZ-B", "poor2", date(2020, 9, 1), "30000.00", "2000.00", False, "18000.00", "3000.00")]
    )[0]
    amount_b = expected_b.aid + expected_b.supplementary
    assert amount_b > 0
    # compute: both are payable; without a bank account a batch is refused
    payable = subsidies.subsidies_payable(user=fund)
    assert [(p.claim.claim_id, p.amount) for p in payable] == [
        ("SZ-A", Decimal("15600.00")),
        ("SZ-B", amount_b),
    ]
    with pytest.raises(ValidationError) as err:
        subsidies.batch_create(user=admin, claims=keys("SZ-A"))
    assert "没有登记银行账号" in str(err.value)
    _accounts(sw)

    # batch: made by the administrator; the maker cannot approve it; the fund office does
    batch = subsidies.batch_create(user=admin, claims=keys("SZ-A", "SZ-B"), note="2020年9月")
    assert batch.status == BatchStatus.PENDING
    assert subsidies.subsidies_payable(user=fund) == []
    with pytest.raises(ValidationError) as err:  # the same subsidy in a second open batch
        subsidies.batch_create(user=fund, claims=keys("SZ-A"))
    assert subsidies.ERR_ALREADY_LIVE.format(claim_id="SZ-A", batch=batch.batch_no) in str(err.value)
    with pytest.raises(ValidationError):  # no bank file before approval
        subsidies.batch_bank_file(user=admin, batch=batch, path=tmp_path / "early.xlsx")
    with pytest.raises(PermissionDenied) as denied:
        subsidies.batch_approve(user=admin, batch=batch)
    assert str(denied.value) == subsidies.ERR_MAKER_CHECKER
    batch = subsidies.batch_approve(user=fund, batch=batch)
    assert (batch.status, batch.created_by, batch.approved_by) == (BatchStatus.APPROVED, admin, fund)

    # bank file: full ID numbers, the account, the amount
    bank = subsidies.batch_bank_file(user=fund, batch=batch, path=tmp_path / "bank.xlsx")
    table = read_table(
        bank, {"name": ("姓名",), "id": ("身份证号",), "account": ("银行账号",), "amount": ("金额",)}, ()
    )
    rows = [r for _, r in table.rows() if r["id"]]
    assert rows == [
        {"name": "张三", "id": sw.persons["poor1"].id_number, "account": "6217000011112222333", "amount": "15600"},
        {"name": "李四", "id": sw.persons["poor2"].id_number, "account": "6230000099998888",
         "amount": f"{amount_b:.2f}".rstrip("0").rstrip(".")},
    ]  # fmt: skip
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=batch.batch_no).count() == 1

    # return file: A paid, B failed with the bank's reason
    ret = _return_file(tmp_path / "return.csv", [
        (sw.persons["poor1"].id_number, "", "15600.00", "成功", ""),
        ("", "6230000099998888", f"{amount_b:.2f}", "失败", "账户已冻结"),
    ])  # fmt: skip
    result = subsidies.batch_return_apply(user=fund, batch=batch, path=ret)
    assert (result.paid, result.failed, result.unchanged, result.batch_status) == (
        1,
        1,
        0,
        BatchStatus.RETURNED,
    )
    paid_a = Payment.objects.get(claim__claim_id="SZ-A")
    failed_b = Payment.objects.get(claim__claim_id="SZ-B")
    assert (paid_a.status, failed_b.status, failed_b.bank_reason) == (
        PaymentStatus.PAID, PaymentStatus.FAILED, "账户已冻结"
    )  # fmt: skip
    # applied twice: nothing changes
    again = subsidies.batch_return_apply(user=fund, batch=batch, path=ret)
    assert (again.paid, again.failed, again.unchanged) == (0, 0, 2)
    # a file contradicting a recorded result is refused as a whole
    contrary = _return_file(
        tmp_path / "contrary.csv", [(sw.persons["poor1"].id_number, "", "15600.00", "失败", "退票")]
    )
    with pytest.raises(ValidationError) as err:
        subsidies.batch_return_apply(user=fund, batch=batch, path=contrary)
    assert "第2行“结果”" in str(err.value)
    assert Payment.objects.get(pk=paid_a.pk).status == PaymentStatus.PAID

    # re-batch: only the failed subsidy is payable again; the paid one is refused
    assert [(p.claim.claim_id, p.failed_before) for p in subsidies.subsidies_payable(user=admin)] == [
        ("SZ-B", 1)
    ]
    with pytest.raises(ValidationError) as err:
        subsidies.batch_create(user=fund, claims=keys("SZ-A"))
    assert "不能重复发放" in str(err.value)
    subsidies.bank_account_set(person=sw.persons["poor2"], account_no="6230000011110000", user=fund)
    second = subsidies.batch_create(user=fund, claims=keys("SZ-B"))
    subsidies.batch_approve(user=admin, batch=second)
    second_return = _return_file(
        tmp_path / "return2.csv",
        [(sw.persons["poor2"].id_number, "6230000011110000", f"{amount_b:.2f}", "成功", "")],
    )
    subsidies.batch_return_apply(user=admin, batch=second, path=second_return)
    assert list(
        Payment.objects.filter(claim__claim_id="SZ-B").order_by("id").values_list("status", "account_no")
    ) == [
        (PaymentStatus.FAILED, "6230000099998888"),
        (PaymentStatus.PAID, "6230000011110000"),
    ]
    assert subsidies.subsidies_payable(user=admin) == []
    # the ledger: paid per person equals the subsidies
    ledger = subsidies.ledger_rows(user=admin)
    assert {(r.claim.claim_id, r.paid_amount) for r in ledger} == {
        ("SZ-A", Decimal("15600.00")),
        ("SZ-B", amount_b),
    }


def test_the_database_refuses_double_payment_and_self_approval(sw: SettleWorld) -> None:
    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    _accounts(sw)
    batch = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-A"))
    other = PaymentBatch.objects.create(
        batch_no="BF-X", county_id="421321", created_by=sw.users["fund"], created_at=batch.created_at
    )
    claim = Claim.objects.get(claim_id="SZ-A")
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            batch=other, claim=claim, person=claim.person, amount=Decimal("1.00"), account_no="1"
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentBatch.objects.filter(pk=batch.pk).update(
            status=BatchStatus.APPROVED, approved_by=sw.users["admin"]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        PaymentBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.APPROVED)


def test_return_file_rows_that_match_nothing_are_named_and_nothing_is_written(
    sw: SettleWorld, tmp_path: Path
) -> None:
    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    _accounts(sw)
    batch = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-A"))
    subsidies.batch_approve(user=sw.users["fund"], batch=batch)
    bad = _return_file(tmp_path / "bad.csv", [
        (sw.persons["poor1"].id_number, "", "15600.00", "成功", ""),
        (sw.persons["poor2"].id_number, "", "15600.00", "成功", ""),
        (sw.persons["poor1"].id_number, "", "15000.00", "失败", ""),
    ])  # fmt: skip
    with pytest.raises(ValidationError) as err:
        subsidies.batch_return_apply(user=sw.users["fund"], batch=batch, path=bad)
    messages = err.value.message_dict["file"]
    assert messages == [
        f"第3行“身份证号”：{subsidies.ERR_RETURN_NO_MATCH}",
        f"第4行“金额”：{subsidies.ERR_RETURN_AMOUNT.format(amount='15600.00')}",
    ]
    assert Payment.objects.get().status == PaymentStatus.PENDING


def test_scope_and_roles(sw: SettleWorld, make_user: Any) -> None:
    from jkfp.accounts.models import Role

    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    _accounts(sw)
    batch = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-A"))
    inspector = make_user(Role.INSPECTOR, "421321")
    assert [b.pk for b in subsidies.batches(user=inspector)] == [batch.pk]
    with pytest.raises(PermissionDenied):
        subsidies.batch_approve(user=inspector, batch=batch)
    with pytest.raises(PermissionDenied):
        subsidies.subsidies_payable(user=sw.users["t1"])
    with pytest.raises(PermissionDenied):
        subsidies.bank_account_set(
            person=sw.persons["poor1"], account_no="62170000111122223", user=sw.users["hosp"]
        )
    # a fund officer of another county sees neither the subsidy nor the batch, and cannot batch it
    from jkfp.regions.models import Region, RegionLevel

    Region.objects.create(code="421322", name="邻县", level=RegionLevel.COUNTY)
    fund2 = make_user(Role.FUND, "421322", username="fund2")
    assert list(subsidies.batches(user=fund2)) == []
    subsidies.batch_withdraw(user=sw.users["admin"], batch=batch)
    assert subsidies.subsidies_payable(user=fund2) == []
    with pytest.raises(ValidationError) as err:
        subsidies.batch_create(user=fund2, claims=keys("SZ-A"))
    assert "不在您的管辖范围内" in str(err.value)
    revealed = subsidies.bank_account_reveal(user=inspector, person=sw.persons["poor1"])
    assert revealed == "6217000011112222333"
    assert subsidies.account_mask(revealed) == "***************2333"
    assert AuditEvent.objects.filter(action=AuditAction.REVEAL_ID, object_type="bank_account").count() == 1


def test_resettle_under_another_policy_keeps_what_the_insurance_paid(sw: SettleWorld) -> None:
    """``resettle`` (the year path) re-computes the county's layers of a stay settled elsewhere under
    the new policy but never its basic and critical amounts: they are the slip's."""
    from jkfp.settlement.services import policy_install_preset

    register(
        sw, "SZ-8", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    same = bulk.year_resettle(year=2020, policy_name="suixian-2020")
    assert (same.claims, same.changed) == (1, 0)
    policy_install_preset(name="transition-2024", as_name="t2020", year=2020, title="2020 transition")
    report = bulk.year_resettle(year=2020, policy_name="t2020")
    row = Settlement.objects.get(claim__claim_id="SZ-8", is_current=True)
    expected = reference_with(engine.load_preset("transition-2024"), sw)
    assert (report.claims, amounts(row)) == (1, tuple(f"{a:.2f}" for a in expected.amounts))
    assert (row.basic, row.critical) == (Decimal("44400.00"), Decimal("15000.00"))


def reference_with(policy: Any, w: SettleWorld) -> Any:
    """Example 8 settled by the reference engine with ``policy`` (poor, out of county, referred)."""
    return engine.settle_claim(
        policy,
        engine.Claim(
            claim_id="SZ-8",
            person_id=w.persons["poor1"].id_number,
            category="poor",
            discharge_on=date(2020, 8, 1),
            level=3,
            in_county=False,
            referred=True,
            total_amount=Decimal("80000.00"),
            out_of_scope_amount=Decimal("6000.00"),
            basic_paid_amount=Decimal("44400.00"),
            critical_paid_amount=Decimal("15000.00"),
        ),
        engine.YearToDate(),
    )


def test_a_claim_reversed_after_batching_stops_approval(sw: SettleWorld) -> None:
    from jkfp.settlement.services import claim_reverse

    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    _accounts(sw)
    batch = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-A"))
    claim_reverse(claim=Claim.objects.get(claim_id="SZ-A"), user=sw.users["admin"], reason="重复登记")
    with pytest.raises(ValidationError) as err:
        subsidies.batch_approve(user=sw.users["fund"], batch=batch)
    assert err.value.message_dict == {"claims": [subsidies.ERR_CLAIM_REVERSED.format(claim_id="SZ-A")]}
    assert PaymentBatch.objects.get().status == BatchStatus.PENDING


def test_batch_numbers_follow_the_highest_of_the_day(sw: SettleWorld) -> None:
    register(
        sw, "SZ-A", "poor1", date(2020, 8, 1), "80000.00", "6000.00", "44400.00", "15000.00", referred=True
    )
    register(sw, "SZ-B", "poor2", date(2020, 9, 1), "30000.00", "2000.00", "18000.00", "3000.00")
    _accounts(sw)
    first = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-A"))
    second = subsidies.batch_create(user=sw.users["admin"], claims=keys("SZ-B"))
    subsidies.batch_withdraw(user=sw.users["fund"], batch=first)
    third = subsidies.batch_create(user=sw.users["fund"], claims=keys("SZ-A"))
    stem = second.batch_no[:-3]
    assert (first.batch_no, second.batch_no, third.batch_no) == (f"{stem}001", f"{stem}002", f"{stem}003")
    assert list(PaymentBatch.objects.order_by("id").values_list("batch_no", flat=True)) == [
        f"{stem}002",
        f"{stem}003",
    ]
    # newest first on the overview (an aggregating query ignores Meta.ordering)
    assert [b.batch_no for b in subsidies.batches(user=sw.users["admin"])] == [f"{stem}003", f"{stem}002"]
