"""Right to erasure (promise P24): DELETE /me, then the purge function erases everything, resumably."""

import json
from datetime import timedelta

import boto3
import pytest

from flowctory import data_rights_wiring, wiring
from flowctory.adapters import aws as aws_clients
from flowctory.adapters.billing_store import DynamoBillingRepository
from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.s3 import S3MediaStore
from flowctory.errors import Conflict
from flowctory.models.posts import PostStatus
from flowctory.settings import load_settings
from tests.auth.conftest import STRONG_PASSWORD

PASSWORD_BODY = {"current_password": STRONG_PASSWORD}


def _creator_with_everything(world, email: str, creators: list[int], posts: int):
    browser, user_id = world.sign_up(email)
    open_ids = [world.connect_account(user_id, creator) for creator in creators]
    for index in range(posts):
        status = (PostStatus.PENDING, PostStatus.PUBLISHED, PostStatus.FAILED)[index % 3]
        world.add_post(user_id, open_ids[index % len(open_ids)], f"{user_id[:8]}-post-{index:03d}", status=status)
    return browser, user_id, open_ids


def test_p24_erasure_leaves_no_item_object_or_schedule_and_revokes_tokens(world, outbox):
    # Given a creator with 3 TikTok accounts, posts (waiting, published, failed) with schedules and videos,
    # a Stripe subscription and a login-failure counter; and another creator with an account and posts
    ada, ada_id, ada_accounts = _creator_with_everything(world, "ada@example.com", [0, 1, 2], posts=12)
    customer_id, subscription_id = world.subscribe(ada_id)
    assert world.browser().log_in("ada@example.com", "a wrong password").status == 401
    bob, bob_id, bob_accounts = _creator_with_everything(world, "bob@example.com", [3], posts=4)
    bob_items_before = [item for item in world.items() if bob_id in str(item)]
    assert world.mentions(ada_id) and len(bob_items_before) >= 8

    # When Ada deletes her account with her password
    old_cookies = dict(ada.jar)
    answer = ada.request("DELETE", "/me", json_body=PASSWORD_BODY)

    # Then the answer is 202, her session cookie is cleared, the old cookie no longer works, nor can she sign in
    assert answer.status == 202, answer.body
    assert answer.body["status"] == "erasure_scheduled"
    assert "authjs.session-token" not in ada.jar
    replay = world.browser()
    replay.jar.update(old_cookies)
    assert replay.request("GET", "/me").status == 401
    assert world.browser().log_in("ada@example.com").status == 401

    # When the purge function runs
    result = world.purge()

    # Then nothing of Ada remains: no item, no video, no schedule
    assert result["accounts_erased"] == 1 and result["erasures_failed"] == 0
    assert world.mentions(ada_id) == []
    assert not [item for item in world.items() if "ada@example.com" in str(item)]
    # her TikTok grants are revoked at TikTok, Bob's is not
    assert all(world.grant_revoked(open_id) for open_id in ada_accounts)
    assert not world.grant_revoked(bob_accounts[0])
    # her subscription is cancelled and her Stripe customer deleted
    assert world.stripe.calls("DELETE", f"/v1/subscriptions/{subscription_id}")
    assert world.stripe.calls("DELETE", f"/v1/customers/{customer_id}")
    assert customer_id not in world.stripe.customers
    assert world.stripe.subscriptions[subscription_id]["status"] == "canceled"
    # a late Stripe event naming her customer finds no user
    assert DynamoBillingRepository(SingleTable(world.table_name)).user_for_customer(customer_id) is None
    # the confirmation went to the address she had
    assert outbox.last_to("ada@example.com").subject == "Your Flowctory account was deleted"
    # and only a receipt without personal data records the erasure
    receipts = data_rights_wiring.expiring_items().receipts()
    assert len(receipts) == 1 and ada_id not in str(receipts[0]) and "ada@" not in str(receipts[0])

    # And Bob's data is intact
    assert [item for item in world.items() if bob_id in str(item)] == bob_items_before
    assert len([key for key in world.objects() if key.startswith(f"videos/{bob_id}/")]) == 4
    assert bob.request("GET", "/me").status == 200

    # And a second run finds nothing to do
    assert world.purge()["accounts_erased"] == 0


def test_p24_an_erasure_that_crashes_midway_is_resumed_by_the_next_run(world, outbox, monkeypatch):
    # Given a creator who deleted their account
    ada, ada_id, ada_accounts = _creator_with_everything(world, "ada@example.com", [0, 1], posts=6)
    world.subscribe(ada_id)
    assert ada.request("DELETE", "/me", json_body=PASSWORD_BODY).status == 202

    # When the first run crashes after revoking the tokens and deleting the posts (S3 fails)
    s3_down = [True]
    working = S3MediaStore.delete_objects

    def broken(self, keys):
        if s3_down and list(keys):
            raise RuntimeError("S3 is down")
        working(self, keys)

    monkeypatch.setattr(S3MediaStore, "delete_objects", broken)
    first = world.purge()

    # Then it reports the failure, the tokens are already revoked and the request is still open
    assert first["erasures_failed"] == 1
    assert all(world.grant_revoked(open_id) for open_id in ada_accounts)
    assert world.mentions(ada_id)
    assert outbox.to("ada@example.com")[-1].subject != "Your Flowctory account was deleted"

    # When S3 is back and the next run comes after the first one's lease
    s3_down.clear()
    world.clock.advance(minutes=15)
    second = world.purge()

    # Then the erasure completes: nothing of the user remains, and one confirmation was sent
    assert second["accounts_erased"] == 1 and second["erasures_failed"] == 0
    assert world.mentions(ada_id) == []
    confirmations = [m for m in outbox.to("ada@example.com") if m.subject == "Your Flowctory account was deleted"]
    assert len(confirmations) == 1


def test_p24_an_erasure_started_at_once_by_the_async_invocation(world):
    # Given a creator who deleted their account
    ada, ada_id, _ = _creator_with_everything(world, "ada@example.com", [0], posts=3)
    assert ada.request("DELETE", "/me", json_body=PASSWORD_BODY).status == 202

    # When the purge function is invoked for that user (as DELETE /me asks Lambda to)
    result = world.purge({"erase_user_id": ada_id})

    # Then the erasure is done at once, and the next sweep has nothing left
    assert result == {"accounts_erased": 1, "erasures_failed": 0}
    assert world.mentions(ada_id) == []
    assert world.purge()["accounts_erased"] == 0


def test_p24_a_post_being_published_during_the_erasure_is_not_left_behind(world):
    # Given a creator whose post is being published (claimed by an upload attempt)
    ada, ada_id, ada_accounts = _creator_with_everything(world, "ada@example.com", [0], posts=0)
    post = world.add_post(ada_id, ada_accounts[0], "mid-publish")
    posts = PostRepository(SingleTable(world.table_name))
    claimed = posts.claim(ada_id, post.post_id, attempt_id="attempt-1", now=world.clock(), lease=timedelta(minutes=5))
    assert claimed.status is PostStatus.PROCESSING

    # When the account is deleted and erased while the attempt runs
    assert ada.request("DELETE", "/me", json_body=PASSWORD_BODY).status == 202
    assert world.purge()["accounts_erased"] == 1

    # Then the attempt can no longer write the post back (every write of an attempt is conditional)
    with pytest.raises(Conflict):
        posts.record_publish_id(ada_id, post.post_id, attempt_id="attempt-1", publish_id="v_1", now=world.clock())
    with pytest.raises(Conflict):
        posts.mark_published(ada_id, post.post_id, tiktok_post_id=None, now=world.clock())
    assert world.mentions(ada_id) == []


def test_p24_erasure_needs_the_current_password_and_changes_nothing_otherwise(world, outbox):
    # Given a signed-in creator
    ada, _ada_id, _ = _creator_with_everything(world, "ada@example.com", [0], posts=2)
    items_before = world.items()

    # When the deletion is asked with a wrong password, without one, without CSRF, or without a session
    wrong = ada.request("DELETE", "/me", json_body={"current_password": "not my password"})
    missing = ada.request("DELETE", "/me", json_body={})
    no_csrf = ada.request("DELETE", "/me", json_body=PASSWORD_BODY, csrf="forged")
    anonymous = world.browser().request("DELETE", "/me", json_body=PASSWORD_BODY)
    unknown_field = ada.request("DELETE", "/me", json_body={**PASSWORD_BODY, "user_id": "someone-else"})

    # Then each is refused with a clear status and nothing changed
    assert (wrong.status, wrong.error_code) == (403, "wrong_password")
    assert (missing.status, missing.error_code) == (403, "wrong_password")
    assert no_csrf.status == 403 and no_csrf.error_code == "csrf_failed"
    assert anonymous.status in (401, 403)
    assert unknown_field.status == 422
    assert ada.request("GET", "/me").status == 200
    assert world.purge()["accounts_erased"] == 0
    changed = [item for item in world.items() if item not in items_before and not item["pk"].startswith("RATE#")]
    assert changed == []


def test_p24_a_password_less_account_needs_a_sign_in_in_the_last_10_minutes(world):
    # Given an account without a password (signed up with Google), whose sign-in is 11 minutes old
    ada, ada_id, _ = _creator_with_everything(world, "ada@example.com", [0], posts=0)
    world.table.update_item(Key={"pk": f"USER#{ada_id}", "sk": "PROFILE"}, UpdateExpression="REMOVE password_hash")
    world.clock.advance(minutes=11)

    # When it asks for the deletion
    stale = ada.request("DELETE", "/me", json_body={})

    # Then it must sign in again first
    assert (stale.status, stale.error_code) == (403, "reauthentication_required")

    # When it has just signed in (a fresh session)
    service = wiring.sessions()
    fresh = service.start(
        user_id=ada_id, email="ada@example.com", timezone="Europe/Paris", tiktok_connected=True, version=1
    )
    ada.jar["authjs.session-token"] = service.session_cookie(fresh).value
    ada.jar["authjs.csrf-token"] = service.new_csrf(fresh)[0]
    answer = ada.request("DELETE", "/me", json_body={})

    # Then the erasure is scheduled, and done by the next run
    assert answer.status == 202, answer.body
    assert world.purge()["accounts_erased"] == 1
    assert world.mentions(ada_id) == []


def test_p24_schedules_of_a_post_and_its_follow_ups_are_deleted(world):
    # Given a waiting post with its schedule and a follow-up (a publish that waits on TikTok)
    ada, ada_id, accounts = _creator_with_everything(world, "ada@example.com", [0], posts=0)
    post = world.add_post(ada_id, accounts[0], "with-follow-up")
    world.scheduler().follow_up(
        post_id=post.post_id, user_id=ada_id, at=world.clock() + timedelta(hours=1), label="poll1"
    )
    assert len(world.schedules()) == 2

    # When the account is deleted and erased
    assert ada.request("DELETE", "/me", json_body=PASSWORD_BODY).status == 202
    world.purge()

    # Then no schedule is left
    assert boto3.client("scheduler").list_schedules(GroupName=world.group)["Schedules"] == []


def test_p24_delete_me_starts_the_erasure_at_once_and_still_answers_when_that_call_fails(world, monkeypatch):
    # Given the auth function configured with the purge function's ARN, and Lambda recording invocations
    arn = "arn:aws:lambda:eu-west-3:123456789012:function:flowctory-purge"
    monkeypatch.setenv("PURGE_FUNCTION_ARN", arn)
    load_settings.cache_clear()
    invoked: list[dict] = []
    real_client = aws_clients.client

    class Lambda:
        def invoke(self, **arguments):
            invoked.append(arguments)
            if len(invoked) > 1:
                raise RuntimeError("Lambda is throttling")
            return {"StatusCode": 202}

    monkeypatch.setattr(aws_clients, "client", lambda name: Lambda() if name == "lambda" else real_client(name))
    ada, ada_id = world.sign_up("ada@example.com")
    bob, bob_id = world.sign_up("bob@example.com")

    # When both delete their accounts (the second invocation fails)
    first = ada.request("DELETE", "/me", json_body=PASSWORD_BODY)
    second = bob.request("DELETE", "/me", json_body=PASSWORD_BODY)

    # Then the purge function was asked, asynchronously, to erase each; both deletions are accepted anyway
    assert (first.status, second.status) == (202, 202)
    assert [(call["FunctionName"], call["InvocationType"]) for call in invoked] == [(arn, "Event")] * 2
    assert [json.loads(call["Payload"]) for call in invoked] == [{"erase_user_id": ada_id}, {"erase_user_id": bob_id}]
    # and the sweep erases whatever was not started
    assert world.purge()["accounts_erased"] == 2
