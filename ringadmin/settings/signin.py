"""Sign-in security: lockout after failed sign-ins, strong passwords, idle sessions, two-factor
for the roles that need it, and the Content Security Policy every page is served with.

Imported after ``base`` (it extends its apps and middleware). Every number has a default, so
``make run`` needs none of these variables.
"""

from __future__ import annotations

from datetime import timedelta

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ringadmin.settings.base import INSTALLED_APPS, MIDDLEWARE, env

INSTALLED_APPS = [
    *INSTALLED_APPS,
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
]
MIDDLEWARE = [
    *MIDDLEWARE,
    "csp.middleware.CSPMiddleware",
    # After authentication: marks request.user verified once a second factor was given.
    "django_otp.middleware.OTPMiddleware",
    "ringadmin.compliance.two_factor.TwoFactorRequiredMiddleware",
    # Last, as django-axes asks: turns a locked-out attempt into the lockout page.
    "axes.middleware.AxesMiddleware",
]
# django-axes first: it refuses a locked-out username/address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Lockout (django-axes) ------------------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15.0))
if AXES_FAILURE_LIMIT < 1 or timedelta(0) >= AXES_COOLOFF_TIME:
    raise ImproperlyConfigured("AXES_FAILURE_LIMIT and AXES_COOLOFF_MINUTES must be positive")
# One username from one address is locked, so a guesser can neither lock a user out everywhere
# nor try every user from one address past the limit of each.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The address is REMOTE_ADDR: behind a reverse proxy, have the proxy (or the server) set it.
AXES_VERBOSE = False

# --- Passwords ------------------------------------------------------------------------------
PASSWORD_MIN_LENGTH = env.int("PASSWORD_MIN_LENGTH", default=12)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Sessions: an idle session ends --------------------------------------------------------
# Seconds without a request before the session ends; each request starts the count again.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_SECONDS", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = env.bool("SESSION_SAVE_EVERY_REQUEST", default=True)
SESSION_EXPIRE_AT_BROWSER_CLOSE = env.bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", default=True)

# --- Two-factor sign-in (django-otp TOTP) ---------------------------------------------------
_ROLE_NAMES = {"admin", "auditor", "supervisor"}


def two_factor_roles_parse(values: list[str]) -> list[str]:
    """``admin,auditor`` → ``["admin", "auditor"]``; an unknown name stops the start."""
    names = [value.strip().lower().removesuffix("s") for value in values if value.strip()]
    unknown = sorted(set(names) - _ROLE_NAMES)
    if unknown:
        raise ImproperlyConfigured(
            f"REQUIRE_TWO_FACTOR_ROLES: unknown role(s) {', '.join(unknown)}; "
            f"choose among {', '.join(sorted(_ROLE_NAMES))}"
        )
    return names


# Roles that must give a one-time code after the password (empty: only those who enrolled).
REQUIRE_TWO_FACTOR_ROLES = two_factor_roles_parse(env.list("REQUIRE_TWO_FACTOR_ROLES", default=[]))
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="ringadmin")

# --- Content Security Policy (django-csp) ---------------------------------------------------
# Scripts only from our own files: no inline script, no eval. Inline styles stay allowed
# (Django admin, Swagger UI and Redoc set style attributes); styles cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:", "blob:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "media-src": [SELF, "blob:"],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
