from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from ringadmin import views
from ringadmin.compliance import consent_views, hold_views, two_factor_views
from ringadmin.compliance import views as compliance_views

admin.site.site_header = (
    "ringadmin — DEMO: connected to a local FAKE RingCentral"
    if settings.RINGADMIN_DEMO_FAKE
    else "ringadmin"
)
admin.site.site_title = "ringadmin admin"
admin.site.index_title = "Administration"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("login/verify/", two_factor_views.two_factor_verify, name="two-factor-verify"),
    path("login/two-factor/", two_factor_views.two_factor_enrol, name="two-factor-enrol"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("audit/", compliance_views.audit_list, name="audit"),
    path("audit/export.csv", compliance_views.audit_export_csv, name="audit-export"),
    path("audit/export.jsonl", compliance_views.audit_export_jsonl, name="audit-export-jsonl"),
    path("holds/", hold_views.legal_holds, name="legal-holds"),
    path(
        "holds/<int:hold_id>/release",
        hold_views.legal_hold_release_view,
        name="legal-hold-release",
    ),
    path("consent/", consent_views.consent_list, name="consent"),
    path("consent/export.<str:export_format>", consent_views.consent_export, name="consent-export"),
    path(
        "consent/exports/<uuid:export_id>/manifest.json",
        consent_views.consent_export_manifest,
        name="consent-export-manifest",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("monitoring.api.urls")),
    path("", include("monitoring.urls")),
]
