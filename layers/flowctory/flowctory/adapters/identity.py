"""Google (OpenID Connect) and Facebook sign-in with Authlib; ID tokens verified with joserfc.

Endpoints are configuration (the sandbox points them at its simulator). Google's come from its
discovery document and its signing keys from the JWKS it names, both cached; an ID token is
accepted only if RS256-signed by one of those keys, issued by the discovered issuer for our client
id, unexpired and carrying our nonce. Facebook's profile is read server-side with the access token
and an `appsecret_proof`. Authlib, requests and joserfc are imported on first use only.
"""

import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import datetime
from threading import Lock
from typing import TYPE_CHECKING, Any, cast

from flowctory.domain.oauth_login import ProviderIdentity
from flowctory.errors import BadRequest, UpstreamError
from flowctory.observability import logger

if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]

TIMEOUT_SECONDS = 10
METADATA_MAX_AGE = 3600.0
ID_TOKEN_LEEWAY = 60
GOOGLE_ISSUER = "https://accounts.google.com"


def _oauth_failed(provider: str) -> BadRequest:
    return BadRequest(f"{provider.capitalize()} could not sign you in. Please try again.", code="oauth_error")


def _unreachable(provider: str) -> UpstreamError:
    return UpstreamError(f"{provider.capitalize()} did not answer. Please try again in a moment.")


def _session(client_id: str, **kwargs: Any) -> "OAuth2Session":
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(client_id, code_challenge_method="S256", default_timeout=TIMEOUT_SECONDS, **kwargs)


def _fetch_token(provider: str, session: "OAuth2Session", url: str, **kwargs: Any) -> dict[str, Any]:
    """Exchange the code; the provider's refusal is the user's problem (4xx), its silence ours (502)."""
    import requests
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]

    try:
        token: dict[str, Any] = session.fetch_token(url, grant_type="authorization_code", **kwargs)
    except OAuthError as error:
        logger.info("provider refused the code", provider=provider, error=error.error)
        raise _oauth_failed(provider) from None
    except (requests.RequestException, ValueError) as error:
        logger.warning("provider token endpoint failed", provider=provider, error=type(error).__name__)
        raise _unreachable(provider) from None
    return token


def _get_json(provider: str, url: str, **kwargs: Any) -> dict[str, Any]:
    import requests

    try:
        response = requests.get(url, timeout=TIMEOUT_SECONDS, **kwargs)
        response.raise_for_status()
        body = response.json()
    except (requests.RequestException, ValueError) as error:
        logger.warning("provider request failed", provider=provider, error=type(error).__name__)
        raise _unreachable(provider) from None
    if not isinstance(body, dict):
        raise _unreachable(provider)
    return body


class _Cached:
    """One JSON document kept for `max_age` seconds (discovery metadata, key sets)."""

    def __init__(self, load: Callable[[], dict[str, Any]], *, max_age: float = METADATA_MAX_AGE) -> None:
        self._load = load
        self._max_age = max_age
        self._value: tuple[float, dict[str, Any]] | None = None
        self._lock = Lock()

    def get(self, *, fresh: bool = False) -> dict[str, Any]:
        with self._lock:
            if not fresh and self._value and time.monotonic() - self._value[0] < self._max_age:
                return self._value[1]
        value = self._load()
        with self._lock:
            self._value = (time.monotonic(), value)
        return value


class GoogleProvider:
    """Sign in with Google: OpenID Connect authorization code flow with PKCE and nonce."""

    name = "google"
    uses_nonce = True
    scope = "openid email profile"

    def __init__(self, *, client_id: str, client_secret: Callable[[], str], discovery_url: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._metadata = _Cached(lambda: _get_json(self.name, discovery_url))
        self._keys = _Cached(lambda: _get_json(self.name, str(self._metadata.get()["jwks_uri"])))

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None) -> str:
        session = _session(self._client_id, scope=self.scope, redirect_uri=redirect_uri)
        url, _ = session.create_authorization_url(
            self._metadata.get()["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
        )
        return str(url)

    def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str | None, now: datetime
    ) -> ProviderIdentity:
        session = _session(
            self._client_id,
            client_secret=self._client_secret(),
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
        )
        with session:
            token = _fetch_token(
                self.name, session, self._metadata.get()["token_endpoint"], code=code, code_verifier=code_verifier
            )
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or nonce is None:
            raise _oauth_failed(self.name)
        claims = self._verified_claims(id_token, nonce=nonce, now=now)
        verified = claims.get("email_verified")
        return ProviderIdentity(
            provider=self.name,
            subject=str(claims["sub"]),
            email=claims.get("email"),
            email_verified=verified is True or verified == "true",
            name=claims.get("name"),
            avatar_url=claims.get("picture"),
        )

    def _verified_claims(self, id_token: str, *, nonce: str, now: datetime) -> dict[str, Any]:
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        issuer = str(self._metadata.get()["issuer"])
        issuers = [issuer, "accounts.google.com"] if issuer == GOOGLE_ISSUER else [issuer]
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=ID_TOKEN_LEEWAY,
            iss={"essential": True, "values": issuers},
            aud={"essential": True, "value": self._client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        for fresh in (False, True):  # a key rotated at the provider: fetch the key set again, once
            try:
                key_set = KeySet.import_key_set(cast(Any, self._keys.get(fresh=fresh)))
                decoded = jwt.decode(id_token, key_set, algorithms=["RS256"])
                registry.validate(decoded.claims)
            except (JoseError, ValueError, TypeError, KeyError) as error:
                logger.info("ID token refused", provider=self.name, error=type(error).__name__)
                continue
            return dict(decoded.claims)
        raise _oauth_failed(self.name)


class FacebookProvider:
    """Sign in with Facebook: authorization code flow with PKCE; the profile read from the Graph API."""

    name = "facebook"
    uses_nonce = False
    scope = "email public_profile"

    def __init__(self, *, client_id: str, client_secret: Callable[[], str], authorize_url: str, graph_url: str) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorize_url = authorize_url
        self._graph_url = graph_url.rstrip("/")

    def authorization_url(self, *, redirect_uri: str, state: str, code_verifier: str, nonce: str | None) -> str:
        session = _session(self._client_id, scope=self.scope, redirect_uri=redirect_uri)
        url, _ = session.create_authorization_url(self._authorize_url, state=state, code_verifier=code_verifier)
        return str(url)

    def identity(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str | None, now: datetime
    ) -> ProviderIdentity:
        secret = self._client_secret()
        session = _session(
            self._client_id,
            client_secret=secret,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 - a method name, not a secret
        )
        with session:
            token = _fetch_token(
                self.name, session, f"{self._graph_url}/oauth/access_token", code=code, code_verifier=code_verifier
            )
        access_token = token.get("access_token")
        if not isinstance(access_token, str):
            raise _oauth_failed(self.name)
        proof = hmac.new(secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()
        profile = _get_json(
            self.name,
            f"{self._graph_url}/me",
            params={"fields": "id,name,email,picture", "appsecret_proof": proof},
            headers={"Authorization": f"Bearer {access_token}"},
        )
        if not profile.get("id"):
            raise _oauth_failed(self.name)
        picture = profile.get("picture", {})
        avatar = picture.get("data", {}).get("url") if isinstance(picture, dict) else None
        return ProviderIdentity(
            provider=self.name,
            subject=str(profile["id"]),
            email=profile.get("email"),
            # Facebook does not say whether the address was confirmed: treat it as unverified, so it
            # never links to an existing account by itself (a verification e-mail confirms it).
            email_verified=False,
            name=profile.get("name"),
            avatar_url=avatar,
        )
