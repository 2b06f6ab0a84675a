"""boto3 plumbing shared by the AWS providers (cloudfront, autoscaling): clients with adaptive retries,
and botocore exceptions turned into retryable or permanent errors that name the provider."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.exceptions
from botocore.config import Config

from ..core.errors import PermanentError, TemporaryError

THROTTLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException",
                  "ServiceUnavailable", "InternalError", "InternalFailure", "PriorRequestNotComplete"}
AUTH_CODES = {"AccessDenied", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException",
              "AuthFailure", "ExpiredToken", "InvalidAccessKeyId"}


class AwsError(PermanentError):
    """A permanent API error that keeps the AWS error code (callers may treat some as expected)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def make_client(service: str, settings: Mapping[str, Any], *, region: str | None = None,
                endpoint_url: str | None = None, pool: int = 10) -> Any:
    session = boto3.session.Session(profile_name=settings.get("profile"))
    return session.client(
        service,
        region_name=region or settings.get("region", "us-east-1"),
        endpoint_url=endpoint_url or settings.get("endpointUrl"),
        config=Config(
            retries={"mode": "adaptive", "max_attempts": int(settings.get("maxAttempts", 8))},
            connect_timeout=float(settings.get("connectTimeout", 5)),
            read_timeout=float(settings.get("readTimeout", 60)),
            max_pool_connections=pool,
        ),
    )


def error_code(exc: BaseException) -> str:
    return exc.code if isinstance(exc, AwsError) else ""


@contextmanager
def aws_errors(where: str, op: str, temporary_codes: frozenset[str] = frozenset()) -> Iterator[None]:
    """Turn botocore's exceptions into TemporaryError (throttling, 5xx, network, ``temporary_codes``) or
    AwsError/PermanentError, each naming ``where`` (the provider and endpoint) and the operation."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        msg = str(err.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        text = f"{where}: {op} failed: {code}: {msg}"
        if code in THROTTLE_CODES or code in temporary_codes or status >= 500 or status == 429:
            raise TemporaryError(text, 1.0) from exc
        if code in AUTH_CODES or status == 403:
            raise PermanentError(f"{where}: {op}: AWS rejected the credentials ({code})") from exc
        raise AwsError(text, code) from exc
    except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
            botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionClosedError) as exc:
        raise TemporaryError(f"{where}: {op}: cannot reach the API: {exc}", 1.0) from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise PermanentError(f"{where}: no AWS credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
                             "AWS_PROFILE or an instance role)") from exc


def tags_dict(tags: Any) -> dict[str, str]:
    """``[{Key, Value}, ...]`` (any AWS tag list shape) -> ``{key: value}``."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in tags or []}
