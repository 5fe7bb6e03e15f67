"""Consents the product records, and their withdrawal (policy §3.4 and §7.7, promise P26).

What is recorded, and what withdrawing means:

- `privacy_policy`: acceptance of the terms and of the privacy policy (its version) at sign-up, or
  later when a new version is accepted. The account cannot exist without it, so it is not
  withdrawable here: the answer is a 409 that points to account deletion (DELETE /me).
- `age_attestation`: the user said they are old enough (16 in the EU, 13 elsewhere). Not a consent
  to processing; not withdrawable (delete the account instead).
- `post_declaration:<post id>`: the declaration TikTok requires before a post (music usage, and
  the branded content policy for branded content), accepted in the composer. Withdrawable while the
  post is still waiting: the post is cancelled and will not be published. Once publishing began or
  finished, TikTok has received it and withdrawing is no longer possible here.

Flowctory sends no marketing e-mail and uses no cookie or tracker that needs consent, so there is
no other consent to record or withdraw.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flowctory.errors import Conflict, NotFound
from flowctory.models.accounts import UserProfile
from flowctory.models.data_rights import ConsentItem
from flowctory.models.posts import Post, PostFailure, PostStatus

PRIVACY_POLICY = "privacy_policy"
AGE_ATTESTATION = "age_attestation"
POST_DECLARATION = "post_declaration:"
WITHDRAWN = PostFailure(
    code="consent_withdrawn",
    message="Cancelled because you withdrew your acceptance of TikTok's declaration for this post.",
    retryable=False,
)


class ConsentRequiredForAccount(Conflict):
    code = "consent_required_for_account"

    def __init__(self, kind: str) -> None:
        super().__init__(
            f"The account cannot be kept without this ({kind}). To withdraw it, delete your account: "
            "DELETE /me (Settings > Delete my account)."
        )


class DeclarationAlreadyUsed(Conflict):
    code = "consent_already_used"

    def __init__(self) -> None:
        super().__init__(
            "This post is being published or has finished: TikTok already received it with this declaration."
        )


class PostReader(Protocol):
    def get(self, user_id: str, post_id: str) -> Post | None: ...

    def cancel(self, user_id: str, post_id: str, *, now: datetime, reason: PostFailure | None = None) -> Post: ...


def consents_of(profile: UserProfile, posts: Iterable[Post]) -> list[ConsentItem]:
    """Every consent recorded for the user, the account's first."""
    items = [
        ConsentItem(
            kind=PRIVACY_POLICY,
            version=profile.policy_version,
            accepted_at=profile.terms_accepted_at,
            withdrawable=False,
        ),
        ConsentItem(kind=AGE_ATTESTATION, version=None, accepted_at=profile.age_attested_at, withdrawable=False),
    ]
    items += [
        ConsentItem(
            kind=POST_DECLARATION + post.post_id,
            version=post.consent_declaration,
            accepted_at=post.consent_at,
            withdrawable=post.status is PostStatus.PENDING,
        )
        for post in posts
    ]
    return items


@dataclass(frozen=True)
class Withdrawal:
    kind: str
    effect: str


def withdraw(posts: PostReader, *, user_id: str, kind: str, now: datetime) -> Withdrawal:
    """Withdraw the consent `kind` of the user.

    Raises:
        ConsentRequiredForAccount: the account's own consents (409, pointing to DELETE /me).
        DeclarationAlreadyUsed: the post's publishing began or finished.
        NotFound: no such consent for this user.
    """
    if kind in (PRIVACY_POLICY, AGE_ATTESTATION):
        raise ConsentRequiredForAccount(kind)
    post_id = kind.removeprefix(POST_DECLARATION) if kind.startswith(POST_DECLARATION) else ""
    post = posts.get(user_id, post_id) if post_id else None
    if post is None:
        raise NotFound("No such consent.", code="consent_not_found")
    if post.status is not PostStatus.PENDING:
        raise DeclarationAlreadyUsed
    try:
        posts.cancel(user_id, post_id, now=now, reason=WITHDRAWN)
    except Conflict:
        raise DeclarationAlreadyUsed from None
    # Its schedule may still fire: the upload function finds the post cancelled and does nothing.
    return Withdrawal(kind=kind, effect="The post was cancelled; it will not be published.")
