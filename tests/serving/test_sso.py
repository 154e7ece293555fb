"""Single sign-on through OpenID Connect, against a small identity provider run here.

The provider is a real HTTP server (discovery, authorisation, token and key endpoints)
that signs RS256 ID tokens; the service talks to it exactly as to a school's provider.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Form, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import SecretStr

from schooldata.tables import audit_log
from serving.accounts import create_user
from tests.serving.conftest import Api, _free_port, running_server, serving

CLIENT_ID = "ews-test-client"
CLIENT_SECRET = "a-client-secret-known-to-both-sides"


@dataclass
class Provider:
    """Who the provider says is signing in, and how it signs."""

    url: str
    username: str | None = "somsri-sso"
    audience: str = CLIENT_ID
    signing_key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "key-1"})
    )
    codes: dict[str, str] = field(default_factory=dict)
    token_fails: bool = False  # the token endpoint answers 502 with a text page


def _provider_app(provider: Provider, published: RSAKey) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": provider.url,
            "authorization_endpoint": f"{provider.url}/authorize",
            "token_endpoint": f"{provider.url}/token",
            "jwks_uri": f"{provider.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    @app.get("/authorize")
    def authorize(redirect_uri: str, state: str, nonce: str, client_id: str) -> RedirectResponse:
        assert client_id == CLIENT_ID
        code = secrets.token_urlsafe(16)
        provider.codes[code] = nonce
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    @app.post("/token", response_model=None)
    def token(
        request: Request, code: str = Form(), grant_type: str = Form()
    ) -> dict[str, Any] | PlainTextResponse:
        assert grant_type == "authorization_code"
        if provider.token_fails:
            return PlainTextResponse("bad gateway", status_code=502)
        nonce = provider.codes.pop(code)
        now = int(time.time())
        claims = {
            "iss": provider.url,
            "sub": "subject-1",
            "aud": provider.audience,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
        }
        if provider.username:
            claims["preferred_username"] = provider.username
        header = {"alg": "RS256", "kid": published.kid}
        return {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": jwt.encode(header, claims, provider.signing_key),
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [published.as_dict(private=False)]}

    return app


@pytest.fixture(scope="module")
def sso(api: Api) -> Iterator[tuple[str, Provider]]:
    """The service with single sign-on configured, and the provider it trusts."""
    port = _free_port()
    provider = Provider(url=f"http://127.0.0.1:{port}")
    published = RSAKey.import_key(provider.signing_key.as_dict(private=True))
    create_user(
        api.engine,
        "advisor",
        "ครูสมศรี (SSO)",
        staff_id=_advisor_of(api),
        school_id=api.school,
        username="somsri-sso",
    )
    settings = api.settings.model_copy(
        update={
            "oidc_discovery_url": f"{provider.url}/.well-known/openid-configuration",
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
        }
    )
    with serving(_provider_app(provider, published), port), running_server(settings) as url:
        yield url, provider


def _advisor_of(api: Api) -> str:
    with api.engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("select advisor_id from student_scores where student_id = :s limit 1"),
                {"s": api.own_student},
            ).scalar()
        )


def _sign_in(url: str) -> httpx.Response:
    with httpx.Client(follow_redirects=True, timeout=60) as client:
        response = client.get(f"{url}/login/sso")
        listing = client.get(f"{url}/list") if response.status_code == 200 else response
    return listing


def _audit(api: Api) -> pd.DataFrame:
    with api.engine.connect() as connection:
        return pd.DataFrame(connection.execute(sa.select(audit_log)).mappings().all())


def test_a_known_account_signs_in_through_the_provider_with_its_own_scope(
    sso: tuple[str, Provider], api: Api
) -> None:
    url, provider = sso
    provider.username = "somsri-sso"

    listing = _sign_in(url)

    assert listing.status_code == 200
    assert 'class="student"' in listing.text
    assert api.far_student not in listing.text  # an advisor's scope, nothing more
    log = _audit(api)
    assert ((log["action"] == "sign_in") & (log["detail"] == "sso")).any()


def test_someone_the_provider_knows_but_the_service_does_not_gets_nothing(
    sso: tuple[str, Provider], api: Api
) -> None:
    url, provider = sso
    provider.username = "stranger"
    try:
        with httpx.Client(follow_redirects=True, timeout=60) as client:
            answer = client.get(f"{url}/login/sso")
            after = client.get(f"{url}/list", follow_redirects=False)
    finally:
        provider.username = "somsri-sso"

    assert answer.status_code == 403
    assert after.status_code == 303 and after.headers["location"] == "/login"  # noqa: PT018
    log = _audit(api)
    assert log["detail"].fillna("").str.contains("sso: no account 'stranger'").any()


@pytest.mark.parametrize("fault", ["foreign key", "other audience", "token endpoint fails"])
def test_an_id_token_that_fails_its_checks_or_a_failing_provider_signs_nobody_in(
    sso: tuple[str, Provider], api: Api, fault: str
) -> None:
    url, provider = sso
    saved = provider.signing_key, provider.audience
    if fault == "foreign key":
        provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": saved[0].kid})
    elif fault == "other audience":
        provider.audience = "some-other-service"
    else:
        provider.token_fails = True
    refused = _provider_errors(api)
    try:
        with httpx.Client(follow_redirects=True, timeout=60) as client:
            answer = client.get(f"{url}/login/sso")
            after = client.get(f"{url}/list", follow_redirects=False)
    finally:
        provider.signing_key, provider.audience = saved
        provider.token_fails = False

    # The sign-in page with its message (not a server error), and the attempt audited.
    assert answer.status_code == 401
    assert after.status_code == 303
    assert _provider_errors(api) == refused + 1


def _provider_errors(api: Api) -> int:
    return int(_audit(api)["detail"].fillna("").str.startswith("sso: provider_error").sum())


def test_single_sign_on_is_off_unless_configured(api: Api) -> None:
    assert httpx.get(f"{api.url}/login/sso", timeout=30).status_code == 404
    assert "/login/sso" not in httpx.get(f"{api.url}/login", timeout=30).text


def test_the_sign_in_code_loads_without_a_deprecation_warning() -> None:
    # authlib warns on every start of the server when it must fall back to httpx (its
    # warning is always shown, whatever -W says: the test reads what is printed).
    loaded = subprocess.run(
        [sys.executable, "-c", "import serving.sso"], capture_output=True, text=True, check=False
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "DeprecationWarning" not in loaded.stderr, loaded.stderr[-2000:]
