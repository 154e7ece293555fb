"""Optional single sign-on through the school's OpenID Connect provider.

Off unless ``EWS_OIDC_DISCOVERY_URL`` is set. The provider vouches for who someone is;
what they may see still comes from their account here (role, school, advisor code,
schools followed), matched on one claim of the ID token (``EWS_OIDC_USERNAME_CLAIM``,
``preferred_username`` by default) against the account's username. Someone the provider
knows but this service does not gets no access, and the attempt is audited. The ID
token's signature, issuer, audience, expiry and nonce are checked by Authlib against the
provider's published keys.
"""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.starlette_client import OAuth, OAuthError
from joserfc.errors import JoseError
from starlette.requests import Request

from core.settings import Settings

PROVIDER = "school"

__all__ = ["OAuthError", "SingleSignOn"]


class SingleSignOn:
    """The configured provider, or nothing."""

    def __init__(self, settings: Settings) -> None:
        self.claim = settings.oidc_username_claim
        self.oauth = OAuth()
        secret = settings.oidc_client_secret
        self.oauth.register(
            PROVIDER,
            server_metadata_url=settings.oidc_discovery_url,
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret is not None else None,
            client_kwargs={"scope": "openid profile email"},
        )

    @classmethod
    def configured(cls, settings: Settings) -> SingleSignOn | None:
        return cls(settings) if settings.oidc_discovery_url else None

    @property
    def client(self) -> Any:
        return self.oauth.create_client(PROVIDER)

    async def redirect(self, request: Request, callback: str) -> Any:
        """Send the browser to the provider's sign-in page."""
        return await self.client.authorize_redirect(request, callback)

    async def username(self, request: Request) -> str | None:
        """The username the provider vouches for on its way back, or None.

        Raises:
            OAuthError: the provider refused, did not answer, or its answer failed a check.
        """
        try:
            token = await self.client.authorize_access_token(request)
        except (httpx2.HTTPError, JoseError, ValueError) as error:
            # Unreachable or an HTTP error (Authlib's client is httpx2's), a bad signature
            # or claim (issuer, audience, expiry, nonce), or a token not even well formed.
            raise OAuthError(error="provider_error", description=type(error).__name__) from error
        claims = token.get("userinfo") or {}
        value = claims.get(self.claim)
        return str(value).strip().lower() if value else None
