"""一站式结算页面路由 Settlement pages (mounted at /settlement/ by jkfp/urls.py)."""

from django.urls import path

from jkfp.web.settlement import subsidies, views

app_name = "settlement"
urlpatterns = [
    path("", views.settlement_list, name="list"),
    path("window/", views.window, name="window"),
    path("window/outpatient/", views.outpatient, name="outpatient"),
    path("admissions/<int:pk>/discharge/", views.discharge, name="discharge"),
    # A claim by its key: claim ids (结算号) are unique only within an institution (issue 17 §6).
    path("claims/<int:pk>/", views.slip, name="slip"),
    path("claims/<int:pk>/slip.pdf", views.slip_download, name="slip_pdf"),
    path("claims/<int:pk>/reverse/", views.reverse_claim, name="reverse"),
    path("policies/", views.policy_list, name="policies"),
    path("resettle/", views.resettle_report, name="resettle"),
    path("clearing/", views.clearing_page, name="clearing"),
    path("clearing.xlsx", views.clearing_export, name="clearing_export"),
    # 事后补助 · 打卡发放 (settlement.md §7)
    path("subsidies/", subsidies.overview, name="subsidies"),
    path("subsidies/register/", subsidies.register, name="subsidy_register"),
    path("subsidies/batches/", subsidies.batch_create, name="subsidy_batch_create"),
    path("subsidies/batches/<int:pk>/", subsidies.batch_detail, name="subsidy_batch"),
    path("subsidies/batches/<int:pk>/approve/", subsidies.batch_approve, name="subsidy_batch_approve"),
    path("subsidies/batches/<int:pk>/withdraw/", subsidies.batch_withdraw, name="subsidy_batch_withdraw"),
    path("subsidies/batches/<int:pk>/bank.xlsx", subsidies.batch_bank_file, name="subsidy_bank_file"),
    path("subsidies/batches/<int:pk>/return/", subsidies.batch_return, name="subsidy_batch_return"),
    path("subsidies/ledger.xlsx", subsidies.ledger_export, name="subsidy_ledger"),
    path("subsidies/persons/<int:pk>/account/", subsidies.bank_account, name="bank_account"),
    path(
        "subsidies/persons/<int:pk>/account/reveal/",
        subsidies.bank_account_reveal,
        name="bank_account_reveal",
    ),
    path("subsidies/attachments/<int:pk>/", subsidies.attachment, name="subsidy_attachment"),
]
