"""/auth: sign-up, sign-in and out, the session and its CSRF token, e-mail verification, passwords.

Every POST needs the CSRF token (from GET /auth/csrf or GET /auth/session) in the X-CSRF-Token
header, matching the `authjs.csrf-token` cookie: sign-in and sign-up included (login CSRF).

The accounts domain (`flowctory.domain.accounts`) is imported inside the routes: importing the auth
handler stays within the cold-start budget (docs/build-and-bench.md).
"""

from http import HTTPStatus

from aws_lambda_powertools.event_handler.api_gateway import Router

from flowctory import cookies, sessions, wiring
from flowctory.api import common
from flowctory.models.accounts import (
    AcceptedView,
    ChangePasswordRequest,
    CsrfView,
    EmailVerifiedView,
    ForgotPasswordRequest,
    LoginRequest,
    PasswordResetView,
    ResetPasswordRequest,
    SessionView,
    SignedOutView,
    SignupRequest,
    VerifyEmailRequest,
)

router = Router()
router.use([common.no_referrer])
common.install_rate_limit_answer(router)
TAGS = ["auth"]


@router.post(
    "/auth/signup",
    status_code=HTTPStatus.CREATED,
    tags=TAGS,
    summary="Create an account with e-mail and password (and sign in)",
    description="Collects only what the privacy policy lists, plus the age attestation (16+ in the EU, 13+ "
    "elsewhere) and acceptance of the current terms, both recorded with their time. A verification e-mail is sent.",
)
def sign_up(body: SignupRequest) -> SessionView:
    from flowctory.domain import accounts

    profile = accounts.sign_up(wiring.accounts(), body, now=common.now(), source_ip=common.source_ip(router))
    return common.sign_in(router, profile)


@router.post(
    "/auth/login",
    tags=TAGS,
    summary="Sign in with e-mail and password",
    description="The answer to a failed sign-in never says whether the account exists. After repeated failures "
    "an account must wait (429 with Retry-After), and an IP is limited across accounts.",
)
def log_in(body: LoginRequest) -> SessionView:
    from flowctory.domain import accounts

    deps = wiring.accounts()
    profile = accounts.log_in(deps, body.email, body.password, now=common.now(), source_ip=common.source_ip(router))
    return common.sign_in(router, profile)


@router.post("/auth/logout", tags=TAGS, summary="Sign out: end this session and clear every cookie")
def log_out() -> SignedOutView:
    from flowctory.domain import accounts

    service = wiring.sessions()
    accounts.sign_out(wiring.accounts(), sessions.optional_session(router))
    sessions.respond_with_cookies(
        router, *(cookies.clear_cookie(spec, secure=service.secure_cookies) for spec in cookies.POLICY_TABLE)
    )
    sessions.replace_session(router, None)
    return SignedOutView()


@router.get(
    "/auth/session",
    tags=TAGS,
    summary="The signed-in user, the CSRF token and when the session expires",
    description="Each authenticated request slides the session: it expires 30 minutes after the last one, and "
    "in any case 12 hours after sign-in.",
)
def get_session() -> SessionView:
    session = sessions.current_session(router)
    profile = wiring.accounts().store.get_user(session.user_id)
    if profile is None:
        raise sessions.InvalidSession
    return SessionView(
        user=common.user_view(profile, tiktok_connected=session.tiktok_connected),
        csrf_token=common.csrf_token_for(router, session),
        expires_at=session.expires_at,
        absolute_expires_at=session.absolute_expires_at,
    )


@router.get("/auth/csrf", tags=TAGS, summary="The CSRF token to send in the X-CSRF-Token header")
def get_csrf() -> CsrfView:
    return CsrfView(csrf_token=common.csrf_token_for(router, sessions.optional_session(router)))


@router.post(
    "/auth/verify-email",
    tags=TAGS,
    summary="Confirm an e-mail address with the token of the mailed link",
    description="Confirms the account's address, or the new address of an e-mail change (which then takes effect).",
)
def verify_email(body: VerifyEmailRequest) -> EmailVerifiedView:
    from flowctory.domain import accounts

    profile = accounts.verify_email(wiring.accounts(), body.token, now=common.now(), source_ip=common.source_ip(router))
    return EmailVerifiedView(email=profile.email, email_verified=profile.email_verified)


@router.post(
    "/auth/verify-email/resend",
    status_code=HTTPStatus.ACCEPTED,
    tags=TAGS,
    summary="Mail a new verification link (signed in)",
)
def resend_verification() -> AcceptedView:
    from flowctory.domain import accounts

    accounts.resend_verification(wiring.accounts(), sessions.current_session(router), now=common.now())
    return AcceptedView(message="If your address still needs confirming, a new link is on its way.")


@router.post(
    "/auth/password/forgot",
    status_code=HTTPStatus.ACCEPTED,
    tags=TAGS,
    summary="Mail a password reset link",
    description="Always the same answer, in about the same time, whether or not an account has this address.",
)
def forgot_password(body: ForgotPasswordRequest) -> AcceptedView:
    from flowctory.domain import accounts

    accounts.request_password_reset(wiring.accounts(), body.email, now=common.now(), source_ip=common.source_ip(router))
    return AcceptedView(message="If an account uses this address, a link to reset its password is on its way.")


@router.post(
    "/auth/password/reset",
    tags=TAGS,
    summary="Set a new password with the token of the mailed link",
    description="Ends every session of the account (sign in again afterwards) and sends a security e-mail.",
)
def reset_password(body: ResetPasswordRequest) -> PasswordResetView:
    from flowctory.domain import accounts

    accounts.reset_password(
        wiring.accounts(), body.token, body.password, now=common.now(), source_ip=common.source_ip(router)
    )
    service = wiring.sessions()
    sessions.respond_with_cookies(router, cookies.clear_cookie(cookies.SESSION, secure=service.secure_cookies))
    sessions.replace_session(router, None)
    return PasswordResetView()


@router.post(
    "/auth/password/change",
    tags=TAGS,
    summary="Change the password (signed in; needs the current one)",
    description="Ends every other session of the account, keeps this one, and sends a security e-mail.",
)
def change_password(body: ChangePasswordRequest) -> SessionView:
    from flowctory.domain import accounts

    session = sessions.current_session(router)
    profile = accounts.change_password(
        wiring.accounts(), session, body.current_password, body.new_password, now=common.now()
    )
    return common.sign_in(router, profile, auth_time=session.auth_time)
