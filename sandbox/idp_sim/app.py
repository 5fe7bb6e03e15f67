"""Simulated Google (OpenID Connect) and Facebook sign-in, as one WSGI application.

Google, under `/google`: a discovery document, a consent page that signs in a chosen test
identity, a token endpoint that checks the client secret, the redirect URI and the PKCE verifier
(S256) and returns a real RS256-signed ID token (with the nonce), and the JWKS that verifies it.
Facebook, under `/facebook`: the OAuth dialog (consent page), the Graph API's `oauth/access_token`
(same checks) and `me` (which requires a valid `appsecret_proof`). Codes are single-use and live
one minute, as at the real providers. Everything is in memory.
"""

import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

GRAPH_VERSION = "v21.0"
CODE_LIFETIME = 60.0
ID_TOKEN_LIFETIME = 3600
# A 1x1 transparent PNG, so avatar URLs resolve offline.
AVATAR_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


@dataclass(frozen=True)
class TestIdentity:
    """A person the consent page can sign in as."""

    key: str
    subject: str
    email: str
    name: str
    email_verified: bool = True
    picture: str | None = None


def default_identities() -> list[TestIdentity]:
    return [
        TestIdentity("ada", "100000000000000000001", "ada@example.com", "Ada Lovelace"),
        TestIdentity("grace", "100000000000000000002", "grace@example.com", "Grace Hopper"),
        TestIdentity("alan", "100000000000000000003", "alan@example.com", "Alan Turing", email_verified=False),
    ]


@dataclass(frozen=True)
class Client:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...] = ()  # empty: any http(s) URI on localhost or 127.0.0.1


@dataclass
class _Grant:
    provider: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    identity: TestIdentity
    issued: float


@dataclass
class IdpSimulator:
    """The state of both simulated providers; call it as a WSGI application."""

    google: Client
    facebook: Client
    identities: list[TestIdentity] = field(default_factory=default_identities)
    token_requests: list[dict[str, str]] = field(default_factory=list)  # what the app sent, for tests

    def __post_init__(self) -> None:
        self._key = RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"})
        self._grants: dict[str, _Grant] = {}
        self._access_tokens: dict[str, TestIdentity] = {}
        self._lock = threading.Lock()
        self._routes = Map(
            [
                Rule("/", endpoint="index"),
                Rule("/google/.well-known/openid-configuration", endpoint="google_discovery"),
                Rule("/google/authorize", endpoint="google_authorize", methods=["GET", "POST"]),
                Rule("/google/token", endpoint="google_token", methods=["POST"]),
                Rule("/google/jwks", endpoint="google_jwks"),
                Rule(f"/facebook/{GRAPH_VERSION}/dialog/oauth", endpoint="facebook_dialog", methods=["GET", "POST"]),
                Rule(
                    f"/facebook/graph/{GRAPH_VERSION}/oauth/access_token",
                    endpoint="facebook_token",
                    methods=["GET", "POST"],
                ),
                Rule(f"/facebook/graph/{GRAPH_VERSION}/me", endpoint="facebook_me"),
                Rule("/avatar/<key>.png", endpoint="avatar"),
            ]
        )

    # --- WSGI ---

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            endpoint, _ = self._routes.bind_to_environ(environ).match()
            response: Response = getattr(self, f"_{endpoint}")(request)
        except HTTPException as error:
            response = _json(
                {"error": "not_found" if isinstance(error, NotFound) else "invalid_request"}, error.code or 400
            )
        return response(environ, start_response)

    def add_identity(self, identity: TestIdentity) -> None:
        with self._lock:
            self.identities = [known for known in self.identities if known.key != identity.key] + [identity]

    def issuer(self, request: Request) -> str:
        return request.host_url.rstrip("/") + "/google"

    # --- shared flow ---

    def _client(self, provider: str) -> Client:
        return self.google if provider == "google" else self.facebook

    def _authorization_problem(self, provider: str, args: Any) -> str | None:
        client = self._client(provider)
        if args.get("client_id") != client.client_id:
            return "unknown client_id"
        redirect_uri = args.get("redirect_uri", "")
        if not _redirect_allowed(client, redirect_uri):
            return "redirect_uri is not registered for this client"
        if args.get("response_type", "code") != "code":
            return "response_type must be code"
        if args.get("code_challenge_method") != "S256" or len(args.get("code_challenge", "")) != 43:
            return "PKCE with code_challenge_method=S256 is required"
        if provider == "google" and "openid" not in args.get("scope", "").split():
            return "scope must include openid"
        return None

    def _consent(self, provider: str, request: Request) -> Response:
        args = request.values
        problem = self._authorization_problem(provider, args)
        if problem:
            return _page(
                f"{provider.capitalize()} (simulated): error", f"<p class='error'>{html.escape(problem)}</p>", 400
            )
        redirect_uri, state = args["redirect_uri"], args.get("state", "")
        if request.method == "GET":
            return _page(f"Sign in with {provider.capitalize()} (simulated)", self._consent_form(provider, args))
        if request.form.get("decision") != "allow":
            return _redirect(redirect_uri, {"error": "access_denied", "state": state})
        identity = self._chosen_identity(request.form)
        if identity is None:
            return _redirect(redirect_uri, {"error": "server_error", "state": state})
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._grants[code] = _Grant(
                provider=provider,
                client_id=args["client_id"],
                redirect_uri=redirect_uri,
                code_challenge=args["code_challenge"],
                nonce=args.get("nonce"),
                identity=identity,
                issued=time.monotonic(),
            )
        return _redirect(redirect_uri, {"code": code, "state": state})

    def _consent_form(self, provider: str, args: Any) -> str:
        hidden = "".join(
            f"<input type='hidden' name='{html.escape(name)}' value='{html.escape(value)}'>"
            for name, value in args.items(multi=True)
            if name in {"client_id", "redirect_uri", "response_type", "scope", "state", "nonce"}
            or name.startswith("code_challenge")
        )
        choices = "".join(
            f"<label><input type='radio' name='identity' value='{html.escape(i.key)}' {'checked' if n == 0 else ''}> "
            f"{html.escape(i.name)} &lt;{html.escape(i.email)}&gt;{'' if i.email_verified else ' (unverified)'}</label>"
            for n, i in enumerate(self.identities)
        )
        return (
            f"<form method='post'>{hidden}<fieldset><legend>Choose a test identity</legend>{choices}"
            "<label><input type='radio' name='identity' value='custom'> Someone else:</label>"
            "<input name='email' type='email' placeholder='e-mail'> <input name='name' placeholder='name'> "
            "<label><input type='checkbox' name='email_verified' value='true' checked> e-mail verified</label>"
            "</fieldset><button name='decision' value='allow'>Continue</button> "
            "<button name='decision' value='deny'>Cancel</button></form>"
        )

    def _chosen_identity(self, form: Any) -> TestIdentity | None:
        key = form.get("identity", "")
        if key == "custom":
            email = form.get("email", "").strip()
            if not email:
                return None
            subject = str(int(hashlib.sha256(email.lower().encode()).hexdigest()[:15], 16))
            return TestIdentity(
                key=f"custom-{subject}",
                subject=subject,
                email=email,
                name=form.get("name", "").strip() or email.split("@")[0],
                email_verified=form.get("email_verified") == "true",
            )
        return next((identity for identity in self.identities if identity.key == key), None)

    def _redeem(self, provider: str, request: Request) -> _Grant | Response:
        values = request.values
        self.token_requests.append({name: values[name] for name in values if name not in {"client_secret"}})
        client = self._client(provider)
        if values.get("client_id") != client.client_id or values.get("client_secret") != client.client_secret:
            return _json({"error": "invalid_client"}, 401)
        with self._lock:
            grant = self._grants.pop(values.get("code", ""), None)
        if grant is None or grant.provider != provider or time.monotonic() - grant.issued > CODE_LIFETIME:
            return _json({"error": "invalid_grant", "error_description": "unknown, used or expired code"}, 400)
        if values.get("redirect_uri") != grant.redirect_uri or values.get("client_id") != grant.client_id:
            return _json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        verifier = values.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(challenge, grant.code_challenge):
            return _json({"error": "invalid_grant", "error_description": "code_verifier does not match"}, 400)
        return grant

    def _avatar(self, request: Request) -> Response:
        return Response(AVATAR_PNG, mimetype="image/png")

    # --- Google ---

    def _index(self, request: Request) -> Response:
        base = request.host_url.rstrip("/")
        return _page(
            "Simulated Google and Facebook sign-in",
            f"<ul><li>Google discovery: {base}/google/.well-known/openid-configuration</li>"
            f"<li>Facebook dialog: {base}/facebook/{GRAPH_VERSION}/dialog/oauth</li></ul>",
        )

    def _google_discovery(self, request: Request) -> Response:
        issuer = self.issuer(request)
        return _json(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
            }
        )

    def _google_authorize(self, request: Request) -> Response:
        return self._consent("google", request)

    def _google_token(self, request: Request) -> Response:
        grant = self._redeem("google", request)
        if isinstance(grant, Response):
            return grant
        now = int(time.time())
        identity = grant.identity
        claims = {
            "iss": self.issuer(request),
            "aud": grant.client_id,
            "azp": grant.client_id,
            "sub": identity.subject,
            "email": identity.email,
            "email_verified": identity.email_verified,
            "name": identity.name,
            "picture": identity.picture or f"{request.host_url.rstrip('/')}/avatar/{identity.key}.png",
            "iat": now,
            "exp": now + ID_TOKEN_LIFETIME,
        }
        if grant.nonce:
            claims["nonce"] = grant.nonce
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        id_token = jwt.encode(header, claims, self._key, algorithms=["RS256"])
        return _json(
            {
                "access_token": secrets.token_urlsafe(32),
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "openid email profile",
                "id_token": id_token,
            }
        )

    def _google_jwks(self, request: Request) -> Response:
        return _json({"keys": [self._key.as_dict(private=False)]})

    def sign_id_token(self, claims: dict[str, Any]) -> str:
        """An ID token signed with the simulator's key, for tests that need a crafted one."""
        return jwt.encode({"alg": "RS256", "kid": self._key.kid}, claims, self._key, algorithms=["RS256"])

    # --- Facebook ---

    def _facebook_dialog(self, request: Request) -> Response:
        return self._consent("facebook", request)

    def _facebook_token(self, request: Request) -> Response:
        grant = self._redeem("facebook", request)
        if isinstance(grant, Response):
            return grant
        access_token = "EAA" + secrets.token_urlsafe(32)
        with self._lock:
            self._access_tokens[access_token] = grant.identity
        return _json({"access_token": access_token, "token_type": "bearer", "expires_in": 5183944})

    def _facebook_me(self, request: Request) -> Response:
        header = request.headers.get("Authorization", "")
        token = (
            header.removeprefix("Bearer ").strip()
            if header.startswith("Bearer ")
            else request.args.get("access_token", "")
        )
        with self._lock:
            identity = self._access_tokens.get(token)
        if identity is None:
            return _json(
                {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}, 400
            )
        expected = hmac.new(self.facebook.client_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.args.get("appsecret_proof", "")):
            return _json(
                {
                    "error": {
                        "message": "Invalid appsecret_proof provided in the API argument",
                        "type": "GraphMethodException",
                        "code": 100,
                    }
                },
                400,
            )
        fields = set(request.args.get("fields", "id,name").split(","))
        profile: dict[str, Any] = {"id": identity.subject}
        if "name" in fields:
            profile["name"] = identity.name
        if "email" in fields and identity.email_verified:  # Facebook omits an address it cannot vouch for
            profile["email"] = identity.email
        if "picture" in fields:
            url = identity.picture or f"{request.host_url.rstrip('/')}/avatar/{identity.key}.png"
            profile["picture"] = {"data": {"url": url, "is_silhouette": False, "width": 50, "height": 50}}
        return _json(profile)


def _redirect_allowed(client: Client, redirect_uri: str) -> bool:
    if client.redirect_uris:
        return redirect_uri in client.redirect_uris
    parts = urlsplit(redirect_uri)
    return parts.scheme in {"http", "https"} and parts.hostname in {"localhost", "127.0.0.1"}


def _json(body: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(body), status=status, mimetype="application/json", headers={"Cache-Control": "no-store"})


def _redirect(uri: str, params: dict[str, str]) -> Response:
    separator = "&" if "?" in uri else "?"
    return Response(
        status=302, headers={"Location": uri + separator + urlencode(params), "Referrer-Policy": "no-referrer"}
    )


def _page(title: str, body: str, status: int = 200) -> Response:
    document = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:sans-serif;max-width:36rem;margin:3rem auto}}"
        "label{display:block;margin:.4rem 0}.error{color:#b00}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>This is the sandbox's stand-in; no real account is involved.</p>"
        f"{body}</body></html>"
    )
    return Response(document, status=status, mimetype="text/html")
