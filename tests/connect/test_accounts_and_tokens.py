"""Connected accounts at work: creator info, rotation-safe refresh at the simulator, the vault, disconnect
(promises P05, P18, P19)."""

import threading
from datetime import timedelta

import boto3
import pytest

from flowctory import wiring
from flowctory.adapters.kms import KmsTokenCipher
from flowctory.adapters.post_repository import PostRepository
from flowctory.adapters.scheduler import PostScheduler
from flowctory.adapters.tiktok.errors import TikTokReconnectRequired, TikTokTokenInvalid
from flowctory.adapters.tiktok_account_repository import TikTokAccountRepository
from flowctory.domain import tiktok_tokens, token_vault
from flowctory.domain.tiktok_tokens import TokenDeps
from flowctory.models.posts import Post, PostStatus
from tests.connect.conftest import connect
from tests.connect.test_connect_flow import revoked_open_ids, user_id_of
from tests.helpers.posts import a_post
from tests.tokens.test_token_refresh import InMemoryAccounts

AVA = "sim-0001-public-4f0c-9a7e-5b1d2c3e4f50"
BEN = "sim-0002-private-7c1e-8d2f-6a3b4c5d6e70"
ACCESS_LIFETIME = timedelta(hours=2)  # the simulator's "2026" profile


def repository() -> TikTokAccountRepository:
    return TikTokAccountRepository(wiring.table())


def stored_tokens(aws, user_id: str, open_id: str) -> token_vault.TokenPair:
    account = repository().get(user_id, open_id)
    assert account is not None and account.sealed_tokens is not None
    return token_vault.unseal(
        KmsTokenCipher(aws.ref("AppKey")),
        account.sealed_tokens,
        user_id=user_id,
        open_id=open_id,
        access_expires_at=account.access_expires_at,
        refresh_expires_at=account.refresh_expires_at,
        scopes=account.scopes,
    )


def sign_in_again(browser) -> None:
    browser.jar.clear()
    assert browser.log_in("ada@example.com").status == 200


def new_post(post_id: str, *, user_id: str, open_id: str, now) -> Post:
    return a_post(post_id, user_id=user_id, open_id=open_id, now=now, scheduled_at=now + timedelta(days=1))


@pytest.fixture
def two_accounts(ada, sim) -> tuple[str, str]:
    return connect(ada, creator=0), connect(ada, creator=1)


def test_creator_info_for_each_connected_account_comes_fresh_from_tiktok(ada, two_accounts):
    # When the creator asks what each account may post
    ava = ada.request("GET", f"/tiktok/accounts/{AVA}/creator-info")
    ben = ada.request("GET", f"/tiktok/accounts/{BEN}/creator-info")

    # Then each answer is that creator's, as TikTok says it now
    assert ava.status == 200 and ben.status == 200
    assert ava.body["nickname"] == "Ava (public)" and ava.body["can_post"] is True
    assert ava.body["max_video_post_duration_sec"] == 600 and ava.body["duet_disabled"] is False
    assert ben.body["nickname"] == "Ben (private)" and ben.body["max_video_post_duration_sec"] == 300
    assert ben.body["duet_disabled"] is True and ben.body["stitch_disabled"] is True
    assert "PUBLIC_TO_EVERYONE" in ava.body["privacy_level_options"]


def test_creator_info_says_when_the_creator_cannot_post_now(ada, two_accounts, sim):
    # Given TikTok has banned Ava from posting
    sim.creator(AVA, banned=True)

    # Then creator info answers, saying she cannot post now and why
    answer = ada.request("GET", f"/tiktok/accounts/{AVA}/creator-info")
    assert answer.status == 200
    assert answer.body["can_post"] is False and "does not allow this account to post" in answer.body["reason"]


def test_creator_info_of_an_account_not_connected_is_not_found(ada, sim):
    assert ada.request("GET", f"/tiktok/accounts/{AVA}/creator-info").error_code == "tiktok_account_not_found"


def test_p19_two_concurrent_refreshes_under_strict_rotation_leave_one_working_token(aws, ada, sim, tiktok, env):
    # Given an account whose access token (2 h under the 2026 profile) is 5 minutes from expiry
    open_id = connect(ada)
    user_id = user_id_of(ada)
    before = stored_tokens(aws, user_id, open_id)
    assert before.access_expires_at - env.now == ACCESS_LIFETIME
    env.advance(seconds=ACCESS_LIFETIME.total_seconds() - 300)
    sim.advance(ACCESS_LIFETIME.total_seconds() - 300)
    deps = TokenDeps(
        accounts=InMemoryAccounts(wiring.table()),
        cipher=KmsTokenCipher(aws.ref("AppKey")),
        refresher=tiktok,
        clock=env,
        sleep=lambda _: threading.Event().wait(0.02),
    )

    # When two publishes ask for usable tokens at the same moment
    start = threading.Barrier(2)
    results: list[token_vault.TokenPair] = []

    def publish() -> None:
        start.wait()
        results.append(tiktok_tokens.usable_tokens(deps, user_id=user_id, open_id=open_id))

    threads = [threading.Thread(target=publish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    # Then both got the same, new pair, which TikTok honours; the rotated-out refresh token is dead
    assert len(results) == 2
    first, second = (pair.access_token.get_secret_value() for pair in results)
    assert first == second != before.access_token.get_secret_value()
    assert tiktok.user_info(first).open_id == open_id
    with pytest.raises(TikTokReconnectRequired):
        tiktok.refresh(before.refresh_token)
    stored = stored_tokens(aws, user_id, open_id)
    assert stored.access_token.get_secret_value() == first
    assert repository().get(user_id, open_id).token_version == 1

    # And the persisted refresh token is the live one: two hours later the route refreshes again
    env.advance(hours=2)
    sim.advance(2 * 3600)
    sign_in_again(ada)  # the session itself idled out meanwhile
    assert ada.request("GET", f"/tiktok/accounts/{open_id}/creator-info").status == 200
    assert stored_tokens(aws, user_id, open_id).access_token.get_secret_value() != first
    assert repository().get(user_id, open_id).token_version == 2


def test_p19_a_grant_tiktok_no_longer_honours_drops_the_tokens_and_asks_to_reconnect(aws, ada, sim, tiktok, env):
    # Given a connected account whose grant the creator removed in the TikTok app
    open_id = connect(ada)
    user_id = user_id_of(ada)
    tiktok.revoke(stored_tokens(aws, user_id, open_id).access_token)

    # When its tokens next need refreshing
    env.advance(seconds=ACCESS_LIFETIME.total_seconds() - 60)
    sign_in_again(ada)
    answer = ada.request("GET", f"/tiktok/accounts/{open_id}/creator-info")

    # Then the answer asks to reconnect, the tokens are gone and the list shows it
    assert answer.status == 422 and answer.error_code == "tiktok_reconnect_required"
    account = repository().get(user_id, open_id)
    assert account.sealed_tokens is None and account.status == "reconnect_required"
    (listed,) = ada.request("GET", "/tiktok/accounts").body["accounts"]
    assert listed["status"] == "reconnect_required" and listed["access_expires_at"] is None


def test_p18_p19_disconnect_revokes_at_tiktok_deletes_the_account_and_cancels_its_pending_posts(
    aws, ada, two_accounts, sim, tiktok, env
):
    # Given two accounts with a waiting post each (scheduled with EventBridge Scheduler)
    user_id = user_id_of(ada)
    posts = PostRepository(wiring.table())
    settings = aws.function_environment("ScheduleFunction")
    scheduler = PostScheduler(
        group=settings["SCHEDULE_GROUP"],
        target_arn=settings["UPLOAD_FUNCTION_ARN"],
        role_arn=settings["SCHEDULER_ROLE_ARN"],
        dead_letter_arn=settings["DEAD_LETTER_QUEUE_ARN"],
    )
    for post_id, open_id in (("p-ava", AVA), ("p-ben", BEN)):
        post = new_post(post_id, user_id=user_id, open_id=open_id, now=env.now)
        posts.create(post)
        scheduler.schedule(post_id=post_id, user_id=user_id, at=post.scheduled_at, timezone=post.timezone)
    ava_tokens = stored_tokens(aws, user_id, AVA)

    # When the creator disconnects Ava
    answer = ada.request("DELETE", f"/tiktok/accounts/{AVA}")

    # Then the grant is revoked at TikTok, the account and its tokens are gone, her post is cancelled
    assert answer.status == 200 and answer.body == {"open_id": AVA, "cancelled_posts": ["p-ava"]}
    assert revoked_open_ids(sim) == [AVA]
    with pytest.raises(TikTokTokenInvalid):
        tiktok.user_info(ava_tokens.access_token)
    with pytest.raises(TikTokReconnectRequired):
        tiktok.refresh(ava_tokens.refresh_token)
    assert repository().get(user_id, AVA) is None
    cancelled = posts.get(user_id, "p-ava")
    assert cancelled.status is PostStatus.CANCELLED and cancelled.failure.code == "tiktok_disconnected"
    schedules = boto3.client("scheduler").list_schedules(GroupName=settings["SCHEDULE_GROUP"])["Schedules"]
    assert [s["Name"] for s in schedules if "p-ava" in s["Name"]] == []
    # ... and Ben, his post and his schedule are untouched
    assert posts.get(user_id, "p-ben").status is PostStatus.PENDING
    assert [s["Name"] for s in schedules if "p-ben" in s["Name"]]
    assert [a["open_id"] for a in ada.request("GET", "/tiktok/accounts").body["accounts"]] == [BEN]
    assert ada.request("GET", f"/tiktok/accounts/{BEN}/creator-info").status == 200


def test_disconnect_needs_the_csrf_token_and_only_reaches_the_users_own_accounts(ada, two_accounts, new_browser):
    # A forged request (no CSRF header) changes nothing
    assert ada.request("DELETE", f"/tiktok/accounts/{AVA}", csrf=None).error_code == "csrf_failed"
    # Another user cannot disconnect Ada's account
    bob = new_browser()
    assert bob.sign_up("bob@example.com").status == 201
    answer = bob.request("DELETE", f"/tiktok/accounts/{AVA}")
    assert answer.status == 404 and answer.error_code == "tiktok_account_not_found"
    assert len(ada.request("GET", "/tiktok/accounts").body["accounts"]) == 2


def test_disconnect_while_tiktok_is_down_changes_nothing(ada, two_accounts, sim):
    # Given TikTok's revoke endpoint failing
    sim.fault("revoke", status=503, error_code="temporarily_unavailable", count=5)

    # When the creator disconnects, Then they are told to retry and the account stays
    answer = ada.request("DELETE", f"/tiktok/accounts/{AVA}")
    assert answer.status == 502
    assert len(ada.request("GET", "/tiktok/accounts").body["accounts"]) == 2


def test_p05_tokens_never_appear_in_responses_logs_or_the_table_in_clear(aws, ada, sim, captured_logs, table):
    # Given a creator connecting, listing, reading creator info
    seen = []
    original = ada.invoke

    def recording(event):
        response = original(event)
        seen.append(repr(response))
        return response

    ada.invoke = recording
    open_id = connect(ada)
    user_id = user_id_of(ada)
    ada.request("GET", "/tiktok/accounts")
    ada.request("GET", f"/tiktok/accounts/{open_id}/creator-info")
    tokens = stored_tokens(aws, user_id, open_id)
    (item,) = [i for i in table.scan()["Items"] if i["sk"] == f"TIKTOK#{open_id}"]
    ada.request("DELETE", f"/tiktok/accounts/{open_id}")

    # Then neither token shows in any response, log line or stored item
    for secret in (tokens.access_token.get_secret_value(), tokens.refresh_token.get_secret_value()):
        assert all(secret not in response for response in seen)
        assert secret not in captured_logs.getvalue()
        assert secret.encode() not in bytes(item["sealed_tokens"])
        assert secret not in repr(item)


def test_p05_a_ciphertext_copied_to_another_users_item_does_not_decrypt(aws, ada, new_browser, sim, table):
    # Given Ada's sealed tokens copied onto Bob's item for the same TikTok account
    open_id = connect(ada)
    bob = new_browser()
    assert bob.sign_up("bob@example.com").status == 201
    (item,) = [i for i in table.scan()["Items"] if i["sk"] == f"TIKTOK#{open_id}"]
    bob_id = user_id_of(bob)
    table.put_item(Item={**item, "pk": f"USER#{bob_id}", "user_id": bob_id})

    # When Bob's account is used, Then KMS refuses the ciphertext and the copy is dropped
    answer = bob.request("GET", f"/tiktok/accounts/{open_id}/creator-info")
    assert answer.status == 422 and answer.error_code == "tiktok_reconnect_required"
    assert repository().get(bob_id, open_id).sealed_tokens is None
    # ... while Ada's own account still works
    assert ada.request("GET", f"/tiktok/accounts/{open_id}/creator-info").status == 200
