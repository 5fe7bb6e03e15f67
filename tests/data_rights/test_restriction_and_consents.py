"""Restriction of processing (P25) and consent withdrawal (P26)."""

from flowctory import data_rights_wiring, publishing_wiring
from flowctory.adapters.accounts import DynamoAccountStore
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.domain import restriction
from flowctory.domain.publishing import Outcome, publish_post
from flowctory.models.posts import PostStage, PostStatus


def _profile(world, user_id):
    return world.table.get_item(Key={"pk": f"USER#{user_id}", "sk": "PROFILE"})["Item"]


def test_p25_while_restricted_nothing_is_published_no_optional_mail_and_data_is_kept(world):
    # Given a creator with a connected account and a post that is due
    ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    post = world.add_post(ada_id, account, "p-due")
    items_before = len(world.items())

    # When the creator restricts processing (twice: the same restriction)
    first = ada.request("PUT", "/me/restriction", json_body={"restricted": True})
    world.clock.advance(minutes=1)
    again = ada.request("PUT", "/me/restriction", json_body={"restricted": True})

    # Then the answer says so, with the time it began
    assert first.status == 200, first.body
    assert first.body["restricted"] is True and first.body["restricted_at"]
    assert again.body == first.body

    # And the post is not sent to TikTok when its time comes: it is held, not failed
    result = publish_post(publishing_wiring.publisher(), user_id=ada_id, post_id=post.post_id)
    assert result.outcome is Outcome.HELD
    repository = PostRepository(SingleTable(world.table_name))
    stored = repository.get(ada_id, post.post_id)
    assert stored is not None and (stored.status, stored.stage) == (PostStatus.PENDING, PostStage.HELD)
    assert world.sim.simulator.publishes == {}
    # no optional e-mail may go out
    assert restriction.optional_mail_allowed(data_rights_wiring.restrictions(), ada_id) is False
    # and the data is kept
    assert len(world.items()) >= items_before
    assert ada.request("GET", "/me").status == 200

    # When the restriction is lifted
    lifted = ada.request("PUT", "/me/restriction", json_body={"restricted": False})

    # Then processing resumes: the held post is due again, and goes to TikTok once
    assert lifted.body == {"restricted": False, "restricted_at": None}
    assert "restricted" not in _profile(world, ada_id)
    assert restriction.optional_mail_allowed(data_rights_wiring.restrictions(), ada_id) is True
    assert repository.get(ada_id, post.post_id).stage is PostStage.SCHEDULED
    resumed = publish_post(publishing_wiring.publisher(), user_id=ada_id, post_id=post.post_id)
    # (this suite's video is a stand-in that TikTok's processing refuses: sent once, then failed by TikTok)
    assert (resumed.outcome, resumed.detail) == (Outcome.FAILED, "file_format_check_failed")
    assert len(world.sim.simulator.publishes) == 1


def test_p25_the_restriction_survives_writes_of_the_whole_profile(world):
    # Given a restricted creator
    ada, ada_id = world.sign_up("ada@example.com")
    assert ada.request("PUT", "/me/restriction", json_body={"restricted": True}).status == 200

    # When the profile is written whole (linking a Google sign-in does that)
    DynamoAccountStore(SingleTable(world.table_name)).link_identity(ada_id, "google", "g-1", now=world.clock())

    # Then the restriction is still on
    assert _profile(world, ada_id)["restricted"] is True


def test_p25_restriction_refuses_bad_input_and_needs_a_session(world):
    ada, ada_id = world.sign_up("ada@example.com")

    # When the body is not a boolean, has other fields, lacks CSRF, or there is no session
    answers = [
        ada.request("PUT", "/me/restriction", json_body={"restricted": "yes"}),
        ada.request("PUT", "/me/restriction", json_body={"restricted": True, "user_id": "x"}),
        ada.request("PUT", "/me/restriction", json_body={}),
        ada.request("PUT", "/me/restriction", json_body={"restricted": True}, csrf="forged"),
        world.browser().request("PUT", "/me/restriction", json_body={"restricted": True}),
    ]

    # Then each is refused and nothing changed
    assert [answer.status for answer in answers[:3]] == [422, 422, 422]
    assert answers[3].status == 403 and answers[4].status in (401, 403)
    assert "restricted" not in _profile(world, ada_id)


def test_p26_consents_are_listed_and_a_posts_declaration_can_be_withdrawn(world):
    # Given a creator with a waiting post and a published one
    ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    world.add_post(ada_id, account, "p-waiting")
    world.add_post(ada_id, account, "p-published", status=PostStatus.PUBLISHED)

    # When the creator lists their consents
    listed = ada.request("GET", "/me/consents")

    # Then the account's consents and each post's declaration are there, with what can be withdrawn
    assert listed.status == 200
    items = {item["kind"]: item for item in listed.body["items"]}
    assert set(items) == {
        "privacy_policy",
        "age_attestation",
        "post_declaration:p-waiting",
        "post_declaration:p-published",
    }
    assert items["privacy_policy"]["version"] == "2026-01-04" and items["privacy_policy"]["withdrawable"] is False
    assert items["post_declaration:p-waiting"]["withdrawable"] is True
    assert items["post_declaration:p-published"]["withdrawable"] is False
    assert all(set(item) == {"kind", "version", "accepted_at", "withdrawable"} for item in items.values())

    # When the waiting post's declaration is withdrawn
    withdrawn = ada.request("DELETE", "/me/consents/post_declaration:p-waiting")

    # Then the post is cancelled and will not be published
    assert withdrawn.status == 200, withdrawn.body
    assert withdrawn.body["withdrawn"] is True
    stored = PostRepository(SingleTable(world.table_name)).get(ada_id, "p-waiting")
    assert stored is not None and stored.status is PostStatus.CANCELLED
    assert stored.failure is not None and stored.failure.code == "consent_withdrawn"
    again = {i["kind"]: i for i in ada.request("GET", "/me/consents").body["items"]}
    assert again["post_declaration:p-waiting"]["withdrawable"] is False


def test_p26_consents_the_account_needs_point_to_deletion_and_others_are_refused(world):
    # Given a creator with a published post, and another creator with a waiting one
    ada, ada_id = world.sign_up("ada@example.com")
    world.add_post(ada_id, world.connect_account(ada_id, 0), "p-published", status=PostStatus.PUBLISHED)
    _bob, bob_id = world.sign_up("bob@example.com")
    world.add_post(bob_id, world.connect_account(bob_id, 1), "p-bob")

    # When Ada withdraws the privacy policy, the age attestation, a used declaration, Bob's, or nonsense
    policy = ada.request("DELETE", "/me/consents/privacy_policy")
    age = ada.request("DELETE", "/me/consents/age_attestation")
    used = ada.request("DELETE", "/me/consents/post_declaration:p-published")
    bobs = ada.request("DELETE", "/me/consents/post_declaration:p-bob")
    nonsense = ada.request("DELETE", "/me/consents/marketing")
    no_csrf = ada.request("DELETE", "/me/consents/post_declaration:p-published", csrf="forged")

    # Then the account's consents answer 409 pointing to DELETE /me, the rest are refused, nothing changed
    assert (policy.status, policy.error_code) == (409, "consent_required_for_account")
    assert "DELETE /me" in policy.body["error"]["message"]
    assert (age.status, age.error_code) == (409, "consent_required_for_account")
    assert (used.status, used.error_code) == (409, "consent_already_used")
    assert bobs.status == 404 and nonsense.status == 404 and no_csrf.status == 403
    bob_post = PostRepository(SingleTable(world.table_name)).get(bob_id, "p-bob")
    assert bob_post is not None and bob_post.status is PostStatus.PENDING
    assert world.browser().request("GET", "/me/consents").status == 401
