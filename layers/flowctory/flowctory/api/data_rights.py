"""/me data rights (policy §7-§8): export, restriction, erasure and consents (promises P22, P24-P26).

Every route needs a session (401 without one) and, on unsafe methods, the CSRF header like every
other route; each acts on the signed-in user only: no id in a path or body names a user.
"""

from http import HTTPStatus

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.api_gateway import Router

from flowctory import cookies, data_rights_wiring, sessions, wiring
from flowctory.api import common
from flowctory.errors import NotFound
from flowctory.models.data_rights import (
    ConsentList,
    ConsentWithdrawnView,
    EraseAccountRequest,
    ErasureScheduledView,
    ExportDocument,
    RestrictionRequest,
    RestrictionView,
)

router = Router()
common.install_rate_limit_answer(router)
TAGS = ["data rights"]
EXPORT_FILENAME = "flowctory-export.json"


@router.get(
    "/me/export",
    tags=TAGS,
    summary="Download everything Flowctory holds about me (JSON)",
    description="One JSON document (schema_version 1): profile (no password hash), sign-in identities, TikTok "
    "accounts (no tokens), posts, subscription and invoice references, consents, security events, and the "
    "CCPA categories, sources, purposes and recipients. Served as the attachment flowctory-export.json.",
    responses={200: {"description": "The export document, as an attachment."}},
)
def get_export() -> Response[ExportDocument]:
    from flowctory.domain import export

    session = sessions.current_session(router)
    document = export.build_export(data_rights_wiring.export(), user_id=session.user_id, now=common.now())
    return Response(
        status_code=HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=document,
        headers={"Content-Disposition": f'attachment; filename="{EXPORT_FILENAME}"'},
    )


@router.put(
    "/me/restriction",
    tags=TAGS,
    summary="Restrict (or stop restricting) the processing of my data",
    description="While restricted: nothing is published (a post whose time comes is held), no optional e-mail "
    "is sent, and the data is kept. Lifting it publishes the held posts at once (while their video is still "
    "within the retention window) and lets new posts publish again.",
)
def put_restriction(body: RestrictionRequest) -> RestrictionView:
    from flowctory.domain import restriction

    session = sessions.current_session(router)
    state = restriction.set_restriction(
        data_rights_wiring.store(),
        user_id=session.user_id,
        restricted=body.restricted,
        now=common.now(),
        held_posts=data_rights_wiring.posts(),
        sweep=data_rights_wiring.purge_invoker(),
    )
    return RestrictionView(restricted=state.restricted, restricted_at=state.restricted_at)


@router.delete(
    "/me",
    status_code=HTTPStatus.ACCEPTED,
    tags=TAGS,
    summary="Delete my account and everything held about me",
    description="Needs `current_password`, or for an account without a password a sign-in in the last 10 "
    "minutes. Every session ends at once and the cookies are cleared; the erasure runs in the background "
    "(TikTok access revoked, posts, schedules and videos deleted, Stripe subscription cancelled and customer "
    "deleted) and a confirmation e-mail follows.",
)
def delete_me(body: EraseAccountRequest) -> ErasureScheduledView:
    from flowctory.domain import erasure

    session = sessions.current_session(router)
    erasure.request_erasure(
        data_rights_wiring.erasure_request(), session, current_password=body.current_password, now=common.now()
    )
    service = wiring.sessions()
    sessions.respond_with_cookies(
        router, *(cookies.clear_cookie(spec, secure=service.secure_cookies) for spec in cookies.POLICY_TABLE)
    )
    sessions.replace_session(router, None)
    return ErasureScheduledView()


@router.get("/me/consents", tags=TAGS, summary="The consents I gave, and which I can withdraw")
def get_consents() -> ConsentList:
    from flowctory.domain import consents, export

    session = sessions.current_session(router)
    profile = wiring.account_store().get_user(session.user_id)
    if profile is None:
        raise sessions.InvalidSession
    posts = export.all_posts(data_rights_wiring.posts(), session.user_id)
    return ConsentList(items=consents.consents_of(profile, posts))


@router.delete(
    "/me/consents/<kind>",
    tags=TAGS,
    summary="Withdraw a consent",
    description="A post's declaration (`post_declaration:<post id>`) can be withdrawn while the post waits: the "
    "post is cancelled. The privacy policy and the age attestation cannot be withdrawn while the account "
    "exists (409 `consent_required_for_account`): delete the account instead (DELETE /me).",
)
def delete_consent(kind: str) -> ConsentWithdrawnView:
    from flowctory.domain import consents

    session = sessions.current_session(router)
    if len(kind) > 200:
        raise NotFound("No such consent.", code="consent_not_found")
    withdrawal = consents.withdraw(data_rights_wiring.posts(), user_id=session.user_id, kind=kind, now=common.now())
    return ConsentWithdrawnView(kind=withdrawal.kind, effect=withdrawal.effect)
