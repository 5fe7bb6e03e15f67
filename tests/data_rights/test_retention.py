"""Retention (P17, P20): post metadata is gone 90 days after it finished, even with TTL switched off
(moto never expires items); account data never expires while the account lives."""

from datetime import timedelta

from flowctory.adapters.dynamodb import SingleTable
from flowctory.adapters.post_repository import PostRepository
from flowctory.models.posts import PostFailure, PostStatus


def _keys(world):
    return {(item["pk"], item["sk"]) for item in world.items()}


def test_p20_the_sweep_deletes_post_metadata_90_days_after_publication_without_ttl(world):
    # Given a published post (and its publish pointer), a failed and a cancelled one, and a waiting one
    _ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    posts = PostRepository(SingleTable(world.table_name))
    world.add_post(ada_id, account, "p-published", status=PostStatus.PUBLISHED)
    world.add_post(ada_id, account, "p-to-fail")
    posts.mark_failed(
        ada_id, "p-to-fail", failure=PostFailure(code="x", message="m", retryable=False), now=world.clock()
    )
    world.add_post(ada_id, account, "p-to-cancel")
    posts.cancel(ada_id, "p-to-cancel", now=world.clock())
    world.add_post(ada_id, account, "p-waiting", scheduled_at=world.clock() + timedelta(days=10))
    post_keys = {(f"USER#{ada_id}", f"POST#{name}") for name in ("p-published", "p-to-fail", "p-to-cancel")}
    pointer = ("PUBLISH#v_pub_p-published", "PUBLISH")

    # When the sweep runs 90 days minus a minute later
    world.clock.advance(days=90, minutes=-1)
    early = world.purge()

    # Then everything is still there
    assert early["expired_items_deleted"] == 0
    assert post_keys | {pointer} <= _keys(world)

    # When it runs two minutes later (TTL, which lags up to two days, is not needed: moto never runs it)
    world.clock.advance(minutes=2)
    late = world.purge()

    # Then the finished posts and the publish pointer are gone, and the waiting post and the account stay
    assert late["expired_items_deleted"] == 4
    remaining = _keys(world)
    assert not (post_keys | {pointer}) & remaining
    assert (f"USER#{ada_id}", "POST#p-waiting") in remaining
    assert (f"USER#{ada_id}", "PROFILE") in remaining


def test_p20_failed_and_cancelled_posts_expire_90_days_after_they_finished(world):
    # Given posts failed and cancelled now
    _ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    posts = PostRepository(SingleTable(world.table_name))
    world.add_post(ada_id, account, "p-fail")
    failed = posts.mark_failed(
        ada_id, "p-fail", failure=PostFailure(code="x", message="m", retryable=True), now=world.clock()
    )
    world.add_post(ada_id, account, "p-cancel")
    cancelled = posts.cancel(ada_id, "p-cancel", now=world.clock())

    # Then each expires 90 days after it finished, and is in the sweep's query path (not its waiting one)
    for post in (failed, cancelled):
        assert post.expires_at is not None and post.finished_at is not None
        assert post.expires_at - post.finished_at == timedelta(days=90)
    items = {item["sk"]: item for item in world.items() if item["sk"] in ("POST#p-fail", "POST#p-cancel")}
    assert all(item["due_pk"].startswith("EXPIRE#") for item in items.values())

    # And a retry gives a failed post a new life: it leaves the expiry path
    reopened = posts.reopen_for_retry(
        ada_id, "p-fail", scheduled_at=world.clock() + timedelta(hours=1), now=world.clock()
    )
    assert reopened.expires_at is None
    stored = world.table.get_item(Key={"pk": f"USER#{ada_id}", "sk": "POST#p-fail"})["Item"]
    assert stored["due_pk"].startswith("DUE#")


def test_p17_account_data_does_not_expire_while_the_account_lives(world):
    # Given a creator with a connected account, a subscription and a post that published
    _ada, ada_id = world.sign_up("ada@example.com")
    account = world.connect_account(ada_id, 0)
    world.subscribe(ada_id)
    world.add_post(ada_id, account, "p-published", status=PostStatus.PUBLISHED)

    # Then none of the account's items carries an expiry
    account_items = [
        item
        for item in world.items()
        if item["sk"] in ("PROFILE", "EMAIL", "SUBSCRIPTION", "STRIPE_CUSTOMER")
        or item["sk"].startswith("TIKTOK#")
        or item["pk"].startswith("TIKTOK_OWNER#")
    ]
    assert len(account_items) == 6
    assert [item for item in account_items if "expires_at" in item] == []

    # When the sweeps run more than a year later
    world.clock.advance(days=400)
    world.purge()

    # Then the account data is all there and the creator can still sign in
    remaining = _keys(world)
    assert {(item["pk"], item["sk"]) for item in account_items} <= remaining
    assert (f"USER#{ada_id}", "POST#p-published") not in remaining  # post metadata did expire
    assert world.browser().log_in("ada@example.com").status == 200
