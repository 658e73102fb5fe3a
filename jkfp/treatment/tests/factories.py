"""Test data of the treatment tests: persons in three villages of two townships, cases, users."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jkfp.registry.tests.factories import make_person as registry_person


@dataclass
class TreatmentWorld:
    """Persons, cases and users by key."""

    persons: dict[str, Any] = field(default_factory=dict)
    cases: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)
    diseases: dict[str, Any] = field(default_factory=dict)


def make_person(village: Any, name: str, serial: int, born: date = date(1960, 5, 1)) -> Any:
    """人员 A person with a valid ID number (issued by 随县) in ``village``."""
    return registry_person(village, name, serial, born=born, region6="421321")


def make_case(person: Any, disease: Any, status: str = "treated", **extra: Any) -> Any:
    """大病救治 A case created directly (the services are tested on their own)."""
    from jkfp.treatment.models import MajorDiseaseCase

    values: dict[str, Any] = {"diagnosed_on": date(2024, 3, 1), "status": status}
    if status == "untreated" and "untreated_reason" not in extra:
        values["untreated_reason"] = "dialysis_claim_pending"
    values.update(extra)
    return MajorDiseaseCase.objects.create(person=person, disease=disease, **values)


def build_world(county: dict[str, Any], make_user: Callable[..., Any]) -> TreatmentWorld:
    """张三 (第1镇1村), 王五 (第1镇2村), 赵六 (第2镇1村), each with a case; one user per role."""
    from jkfp.accounts.models import Role
    from jkfp.registry.models import Disease
    from jkfp.registry.services import disease_catalogue_load

    disease_catalogue_load()
    w = TreatmentWorld()
    w.diseases = {d.name: d for d in Disease.objects.filter(kind="major")}
    w.persons["zhang"] = make_person(county["t1v1"], "张三", 1)
    w.persons["wang"] = make_person(county["t1v2"], "王五", 3)
    w.persons["zhao"] = make_person(county["t2v1"], "赵六", 5)
    w.cases["zhang"] = make_case(
        w.persons["zhang"], w.diseases["终末期肾病"], "untreated", designated_institution=county["hospital"]
    )
    w.cases["wang"] = make_case(w.persons["wang"], w.diseases["肺癌"], "treated")
    w.cases["zhao"] = make_case(w.persons["zhao"], w.diseases["脑卒中"], "in_treatment")
    w.users = {
        "admin": make_user(Role.COUNTY_ADMIN, "421321", full_name="县管理员"),
        "t1": make_user(Role.TOWNSHIP, county["t1"].code),
        "t2": make_user(Role.TOWNSHIP, county["t2"].code),
        "doctor": make_user(Role.VILLAGE_DOCTOR, county["t1v1"].code),
        "inspector": make_user(Role.INSPECTOR, "421321"),
        "hospital": make_user(Role.HOSPITAL, "421321"),
    }
    return w
