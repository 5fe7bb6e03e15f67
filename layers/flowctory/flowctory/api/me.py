"""/me: the signed-in user's profile, and its rectification (policy §7.2, promise P23)."""

from dataclasses import replace

from aws_lambda_powertools.event_handler.api_gateway import Router

from flowctory import sessions, wiring
from flowctory.api import common
from flowctory.models.accounts import UpdateProfileRequest, UserView

router = Router()
TAGS = ["me"]


@router.get("/me", tags=TAGS, summary="The signed-in user's profile")
def get_me() -> UserView:
    session = sessions.current_session(router)
    profile = wiring.accounts().store.get_user(session.user_id)
    if profile is None:
        raise sessions.InvalidSession
    return common.user_view(profile, tiktok_connected=session.tiktok_connected)


@router.patch(
    "/me",
    tags=TAGS,
    summary="Correct the name, timezone or e-mail address, or accept the current privacy policy",
    description="A new e-mail address takes effect once confirmed from the link mailed to it (the old address "
    "is told); changing it needs `current_password`, or a sign-in in the last 10 minutes for an account "
    "without a password.",
)
def update_me(body: UpdateProfileRequest) -> UserView:
    from flowctory.domain import accounts

    session = sessions.current_session(router)
    profile = accounts.update_profile(wiring.accounts(), session, body, now=common.now())
    # The session cookie re-issued with this answer carries the corrected timezone at once.
    sessions.replace_session(router, replace(session, timezone=profile.timezone, email=profile.email))
    return common.user_view(profile, tiktok_connected=session.tiktok_connected)
