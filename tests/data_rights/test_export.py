"""Right of access and portability (promise P22): GET /me/export."""

import json

from flowctory.adapters.accounts import DynamoAccountStore
from flowctory.adapters.dynamodb import SingleTable
from flowctory.models.posts import PostStatus


def test_p22_the_export_holds_every_category_the_policy_lists_and_no_secret(world):
    # Given a creator with a Google identity, two TikTok accounts, posts, a subscription and a payment notice
    ada, ada_id = world.sign_up("ada@example.com")
    DynamoAccountStore(SingleTable(world.table_name)).link_identity(ada_id, "google", "g-123456", now=world.clock())
    accounts = [world.connect_account(ada_id, 0), world.connect_account(ada_id, 1)]
    posts = [
        world.add_post(ada_id, accounts[0], "p-waiting"),
        world.add_post(ada_id, accounts[1], "p-published", status=PostStatus.PUBLISHED),
        world.add_post(ada_id, accounts[0], "p-failed", status=PostStatus.FAILED),
    ]
    customer_id, subscription_id = world.subscribe(ada_id)
    # and another creator, whose data must not appear
    _bob, bob_id = world.sign_up("bob@example.com")
    bob_account = world.connect_account(bob_id, 3)
    world.add_post(bob_id, bob_account, "p-bob")

    # When Ada downloads her export
    answer = ada.request("GET", "/me/export")

    # Then it is a JSON attachment named flowctory-export.json
    assert answer.status == 200, answer.body
    assert answer.headers["content-disposition"] == 'attachment; filename="flowctory-export.json"'
    document = answer.body
    assert document["schema_version"] == "1" and document["generated_at"]

    # with every category of the policy: profile, identities, TikTok accounts, posts, subscription, consents
    assert document["profile"]["email"] == "ada@example.com" and document["profile"]["timezone"] == "Europe/Paris"
    assert document["profile"]["has_password"] is True
    assert document["identities"] == [{"provider": "google", "subject": "g-123456"}]
    assert sorted(a["open_id"] for a in document["tiktok_accounts"]) == sorted(accounts)
    assert {a["display_name"] for a in document["tiktok_accounts"]} == {"Creator 0", "Creator 1"}
    assert sorted(p["id"] for p in document["posts"]) == sorted(p.post_id for p in posts)
    published = next(p for p in document["posts"] if p["id"] == "p-published")
    for field in ("caption", "privacy_level", "allow_comment", "allow_duet", "allow_stitch", "scheduled_at",
                  "status", "tiktok_post_id", "account", "video", "published_at", "expires_at"):  # fmt: skip
        assert field in published
    assert document["subscription"]["stripe_customer_id"] == customer_id
    assert document["subscription"]["subscription_id"] == subscription_id
    assert document["subscription"]["status"] == "active"
    assert document["invoices"]["held_by"] == "Stripe"
    kinds = {c["kind"] for c in document["consents"]}
    assert {"privacy_policy", "age_attestation", "post_declaration:p-waiting"} <= kinds
    assert document["security_events"] == []
    # the CCPA "right to know" section
    assert set(document["ccpa"]) >= {"categories_collected", "sources", "business_purposes", "recipients"}
    assert document["ccpa"]["sold_or_shared_for_advertising"] is False
    assert "post_metadata" in document["retention"]

    # And nothing the policy does not list: no password hash, no token, no sealed tokens, no other user
    text = json.dumps(document)
    assert "password_hash" not in text and "$argon2" not in text
    for grant in world.grants.values():
        assert grant.access_token.get_secret_value() not in text
        assert grant.refresh_token.get_secret_value() not in text
    assert "sealed_tokens" not in text and "token_hash" not in text
    assert bob_id not in text and "bob@example.com" not in text and bob_account not in text and "p-bob" not in text


def test_p22_the_export_needs_a_session_and_reads_every_page(world):
    # Given a signed-in creator with more posts than a page holds
    ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    for index in range(105):
        world.add_post(ada_id, account, f"p-{index:03d}", status=PostStatus.PUBLISHED)

    # When the export is asked without a session, then with one
    anonymous = world.browser().request("GET", "/me/export")
    answer = ada.request("GET", "/me/export")

    # Then without a session it is refused, and with one every post is there (read page by page)
    assert anonymous.status == 401
    assert answer.status == 200
    assert len(answer.body["posts"]) == 105
