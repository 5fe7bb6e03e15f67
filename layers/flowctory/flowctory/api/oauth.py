"""/auth/oauth/{provider}: sign-in with Google or Facebook (redirects, state in a sealed cookie).

The callback is a top-level navigation of the browser, so it never answers with a JSON body: a
refused callback redirects to the console's sign-in page with `?error=<code>` (one of
`CALLBACK_ERRORS`, nothing else: no provider text, no state), as the TikTok callback does.

The sign-in domain (`flowctory.domain.oauth_login`) is imported inside the routes: importing the
auth handler stays within the cold-start budget (docs/build-and-bench.md).
"""

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Router
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from flowctory import cookies, sessions, wiring
from flowctory.api import common
from flowctory.errors import AppError, BadRequest
from flowctory.models.accounts import check_timezone
from flowctory.observability import logger

if TYPE_CHECKING:
    from flowctory.domain.oauth_login import IdentityProvider

router = Router()
TAGS = ["auth"]
FLOW_SEAL = "oauth-sign-in"
REDIRECT: dict[int, OpenAPIResponse] = {
    302: {"description": "Redirect to the provider's consent page, or back to the app once signed in."}
}
# The codes a refused callback puts in the sign-in page's URL; the console words each one (screens/auth.js).
CALLBACK_ERRORS = frozenset(
    {
        "oauth_denied",  # the user cancelled on the provider's page
        "oauth_state_invalid",  # no, another or an expired flow cookie; a wrong or used state
        "account_not_linked",  # the address already has an account that cannot be linked yet
        "consent_required",  # a first sign-in without the age attestation and the terms
        "oauth_email_missing",  # the provider shared no usable address
        "oauth_error",  # the provider answered with an error, or a code that does not verify
        "upstream_error",  # the provider did not answer
        "provider_unavailable",  # the provider is not configured on this deployment
        "unknown_provider",  # not a sign-in provider (TikTok included)
    }
)
OTHER_CALLBACK_ERROR = "sign_in_failed"
CALLBACK_REDIRECT: dict[int, OpenAPIResponse] = {
    302: {
        "description": "Signed in: redirect to the flow's callback URL. Refused: redirect to the console's "
        "sign-in page, `{web origin}/sign-in?error=<code>`, with one of: "
        + ", ".join(f"`{code}`" for code in sorted(CALLBACK_ERRORS | {OTHER_CALLBACK_ERROR}))
        + ". The flow cookie is deleted in both cases."
    }
}


def _provider(name: str) -> "IdentityProvider":
    from flowctory.domain import oauth_login

    if name not in oauth_login.SIGN_IN_PROVIDERS:
        raise oauth_login.UnknownProvider
    provider = wiring.identity_providers().get(name)
    if provider is None:
        raise oauth_login.ProviderUnavailable(name)
    return provider


def _redirect_uri(provider: str) -> str:
    return f"{wiring.accounts().web_origin}/auth/oauth/{provider}/callback"


def _redirect(location: str) -> Response[None]:
    return Response(status_code=302, headers={"Location": location, "Referrer-Policy": "no-referrer"})


def refused_sign_in_url(error: AppError) -> str:
    """The console's sign-in page on the configured web origin, saying why with a stable code and nothing else."""
    from flowctory.domain import emails

    code = error.code if error.code in CALLBACK_ERRORS else OTHER_CALLBACK_ERROR
    return emails.link(wiring.accounts().web_origin, emails.SIGN_IN_PAGE, error=code)


def end_flow(app: ApiGatewayResolver, next_middleware: NextMiddleware) -> Response:
    """A refused callback goes back to the sign-in page (the browser never lands on a JSON body); the flow
    cookie is deleted whatever the outcome (policy §10.3), errors included."""
    try:
        response = next_middleware(app)
    except AppError as error:
        logger.info("sign-in callback refused", error_code=error.code)
        response = _redirect(refused_sign_in_url(error))
    response.cookies.append(cookies.clear_cookie(cookies.CALLBACK_URL, secure=wiring.sessions().secure_cookies))
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get(
    "/auth/oauth/<provider>/start",
    tags=TAGS,
    summary="Start signing in with Google or Facebook",
    description="Redirects to the provider with state, PKCE (S256) and, for Google, a nonce. `callback_url` must be "
    "a page of the app. A first sign-in creates the account, which needs `age_confirmed` and `accept_terms`; "
    "`timezone` (IANA) is then stored too.",
    responses=REDIRECT,
)
def start_sign_in(
    provider: str,
    callback_url: Annotated[str, Query(max_length=2048)] = "/",
    timezone: Annotated[str | None, Query(max_length=64)] = None,
    age_confirmed: Annotated[bool, Query()] = False,
    accept_terms: Annotated[bool, Query()] = False,
) -> Response[None]:
    from flowctory.domain import oauth_login, redirects

    chosen = _provider(provider)
    deps = wiring.accounts()
    target = redirects.safe_callback_url(callback_url, web_origin=deps.web_origin)
    if timezone is not None:
        try:
            check_timezone(timezone)
        except ValueError:
            raise BadRequest(
                "Unknown timezone; use an IANA name such as Europe/Paris.", code="unknown_timezone"
            ) from None
    url, flow = oauth_login.begin(
        deps,
        chosen,
        redirect_uri=_redirect_uri(provider),
        callback_url=target,
        timezone=timezone,
        age_confirmed=age_confirmed,
        accept_terms=accept_terms,
        now=common.now(),
    )
    service = wiring.sessions()
    sealed = sessions.seal(
        service.keys(), FLOW_SEAL, flow.to_payload(), now=common.now(), lifetime=oauth_login.FLOW_LIFETIME
    )
    response = _redirect(url)
    response.cookies.append(cookies.set_cookie(cookies.CALLBACK_URL, sealed, secure=service.secure_cookies))
    return response


@router.get(
    "/auth/oauth/<provider>/callback",
    tags=TAGS,
    summary="Where Google or Facebook sends the browser back",
    description="Checks the state against the flow cookie and the server's record (single use), exchanges the code "
    "with the PKCE verifier, signs the user in and redirects to the flow's callback URL. The browser opens this "
    "URL itself, so a refusal (cancelled at the provider, an expired or replayed flow, an address that already "
    "has an account, the provider failing...) is not a JSON error either: it redirects to the console's sign-in "
    "page with `?error=<code>` and nothing else. The flow cookie is deleted in every case.",
    responses=CALLBACK_REDIRECT,
    middlewares=[end_flow],
)
def finish_sign_in(
    provider: str,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response[None]:
    from flowctory.domain import oauth_login, redirects
    from flowctory.domain.oauth_login import OAuthFlow

    chosen = _provider(provider)
    service = wiring.sessions()
    sealed = cookies.read_cookie(sessions.request_cookies(router), cookies.CALLBACK_URL, secure=service.secure_cookies)
    flow: OAuthFlow | None = None
    if sealed is not None:
        try:
            flow = OAuthFlow.from_payload(sessions.unseal(service.keys(), FLOW_SEAL, sealed, now=common.now()))
        except sessions.InvalidSeal:
            flow = None
    deps = wiring.accounts()
    profile = oauth_login.finish(
        deps,
        chosen,
        flow,
        redirect_uri=_redirect_uri(provider),
        state=state,
        code=code,
        error=error,
        now=common.now(),
    )
    common.sign_in(router, profile)
    assert flow is not None  # finish() refuses a missing flow
    return _redirect(redirects.callback_url_or_default(flow.callback_url, web_origin=deps.web_origin))
