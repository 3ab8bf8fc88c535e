"""Typed errors of every external vendor, so callers decide on retry or report by class.

One family for RingCentral and RingCX (the clients in this package) and for the speech
engines (``streaming.transcription.engines``, whose ``TranscriptionError``,
``EngineUnavailable`` and ``EngineNotConfigured`` are defined here). ``str()`` of every error
is a sentence an administrator can act on; the structured fields (``vendor``, ``status``,
``error_code``, ``detail``, ``errors``) are there for code and logs. A temporary failure is a
``RateLimited`` or an ``Unavailable`` (``RETRYABLE``), with the wait the vendor asked for in
``retry_after``; every task that calls a vendor retries exactly those, with the one policy
``vendor_retry_policy`` (built on ``ringadmin.retry``). Everything else needs a person or a
code change. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from ringadmin.retry import RetryPolicy

Vendor = Literal["ringcentral", "ringcx"]  # the telephony vendors; a speech engine names itself

VENDOR_NAMES: dict[str, str] = {"ringcentral": "RingCentral", "ringcx": "RingCX"}
CREDENTIAL_SETTINGS = ("RINGCENTRAL_CLIENT_ID", "RINGCENTRAL_CLIENT_SECRET", "RINGCENTRAL_JWT")
DEFAULT_RETRY_AFTER_SECONDS = 30.0  # RingCentral: wait at least 30 s when Retry-After is absent


def _rebuild(cls: type[VendorError], state: dict[str, Any]) -> VendorError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("detail", ""))
    error.__dict__.update(state)
    return error


class VendorError(Exception):
    """A call to a vendor (RingCentral, RingCX, a speech engine) did not give the expected
    answer."""

    def __init__(
        self,
        detail: str,
        *,
        vendor: Vendor | str,
        status: int | None = None,
        error_code: str | None = None,
        errors: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(detail)
        self.vendor = vendor
        self.status = status
        self.detail = detail
        self.error_code = error_code
        self.errors: tuple[Mapping[str, Any], ...] = tuple(errors)

    @property
    def vendor_name(self) -> str:
        return VENDOR_NAMES.get(self.vendor, self.vendor)

    @property
    def retryable(self) -> bool:
        """The same request may work later: the tasks retry exactly these."""
        return isinstance(self, RETRYABLE)

    def _code(self) -> str:
        parts = [f"HTTP {self.status}" if self.status else "", self.error_code or ""]
        joined = " ".join(p for p in parts if p)
        return f" ({joined})" if joined else ""

    def _detail(self) -> str:
        return self.detail.rstrip(". ") if self.detail else "no detail given"

    def __str__(self) -> str:
        return f"{self.vendor_name} call failed{self._code()}: {self._detail()}."

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(vendor={self.vendor!r}, status={self.status!r}, "
            f"error_code={self.error_code!r}, detail={self.detail!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive Exception's default pickling.
        return (_rebuild, (type(self), dict(self.__dict__)))


class RateLimited(VendorError):
    """The vendor asked us to slow down (429), or our own budget for it is spent."""

    def __init__(
        self,
        detail: str,
        *,
        vendor: Vendor | str,
        retry_after: float = DEFAULT_RETRY_AFTER_SECONDS,
        status: int | None = 429,
        error_code: str | None = None,
        errors: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(detail, vendor=vendor, status=status, error_code=error_code, errors=errors)
        self.retry_after = max(0.0, float(retry_after))

    def __str__(self) -> str:
        return (
            f"{self.vendor_name} is rate limiting these requests{self._code()}: "
            f"{self._detail()}. Try again in {self.retry_after:.0f} s."
        )


class Unavailable(VendorError):
    """Could not reach the vendor, it timed out, failed (5xx) or answered nonsense.

    ``retry_after`` is the wait the vendor asked for with a 503's ``Retry-After``, if any.
    """

    def __init__(
        self,
        detail: str,
        *,
        vendor: Vendor | str,
        retry_after: float | None = None,
        status: int | None = None,
        error_code: str | None = None,
        errors: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(detail, vendor=vendor, status=status, error_code=error_code, errors=errors)
        self.retry_after = None if retry_after is None else max(0.0, float(retry_after))

    def __str__(self) -> str:
        when = (
            f"in {self.retry_after:.0f} s, as it asks"
            if self.retry_after is not None
            else "in a few minutes"
        )
        return (
            f"{self.vendor_name} is unavailable{self._code()}: {self._detail()}. "
            f"This is usually temporary; try again {when}."
        )


class AuthFailed(VendorError):
    """The vendor refused our credentials or token even after a refresh."""

    def __str__(self) -> str:
        return (
            f"{self.vendor_name} refused the app's credentials{self._code()}: "
            f"{self._detail()}. Check {', '.join(CREDENTIAL_SETTINGS[:-1])} and "
            f"{CREDENTIAL_SETTINGS[-1]}, and that the JWT's user has the permissions "
            "this action needs."
        )


class NotFound(VendorError):
    """The object asked for does not exist at the vendor (404)."""

    def __str__(self) -> str:
        return (
            f"{self.vendor_name} has no such object{self._code()}: {self._detail()}. "
            "It may have been deleted there; check the identifier."
        )


class Rejected(VendorError):
    """The vendor refused the request as invalid (4xx); sending it again will not help."""

    def __str__(self) -> str:
        return (
            f"{self.vendor_name} rejected the request{self._code()}: {self._detail()}. "
            "Correct the values and try again."
        )


class NotConfigured(VendorError):
    """Credentials are missing from the settings, so no call can be made."""

    def __init__(self, missing: Iterable[str], *, vendor: Vendor = "ringcentral") -> None:
        self.missing = tuple(missing)
        super().__init__(
            f"{', '.join(self.missing)} {'is' if len(self.missing) == 1 else 'are'} empty",
            vendor=vendor,
        )

    def __str__(self) -> str:
        return (
            f"{self.vendor_name} API credentials are not configured: set "
            f"{', '.join(self.missing)} in the environment or in .env, then restart "
            "the web server and the worker."
        )


# --- speech engines -----------------------------------------------------------------------------


class TranscriptionError(VendorError):
    """A speech engine could not transcribe: a refused request, a broken model, bad
    configuration, or a recording it cannot be given. ``str()`` is the message as written
    (it names the engine); ``vendor`` is the engine's name."""

    def __init__(self, detail: str, *, vendor: str = "speech", **fields: Any) -> None:
        super().__init__(detail, vendor=vendor, **fields)

    def __str__(self) -> str:
        return self.detail


class EngineUnavailable(TranscriptionError, Unavailable):
    """A temporary failure of a speech engine (network, 5xx, rate limit): the same request may
    work later, not sooner than ``retry_after`` when the engine asked."""


class EngineNotConfigured(TranscriptionError):
    """The engine lacks credentials, a model or a package: tells the admin what to set."""


RETRYABLE: tuple[type[VendorError], ...] = (RateLimited, Unavailable)


def vendor_retry_policy(*, max_retries: int) -> RetryPolicy:
    """The policy of every task that calls a vendor: rate limits and outages (``RETRYABLE``,
    speech engines included) up to ``max_retries`` times, backoff from 5 s to 10 min with
    jitter, never sooner than the vendor's Retry-After."""
    return RetryPolicy(retryable=RETRYABLE, max_retries=max_retries)


__all__ = [
    "RETRYABLE",
    "AuthFailed",
    "EngineNotConfigured",
    "EngineUnavailable",
    "NotConfigured",
    "NotFound",
    "RateLimited",
    "Rejected",
    "TranscriptionError",
    "Unavailable",
    "VendorError",
    "vendor_retry_policy",
]
