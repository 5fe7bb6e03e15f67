"""The single-table repository base against moto's DynamoDB, with the table built from template.yaml."""

from datetime import UTC, datetime, timedelta

import pytest
from boto3.dynamodb.conditions import Attr

from flowctory.adapters import keys
from flowctory.adapters.dynamodb import SingleTable, TransactCheck, TransactPut, encode_cursor
from flowctory.errors import BadRequest, Conflict

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(aws) -> SingleTable:
    return SingleTable(aws.ref("AppTable"), clock=lambda: NOW)


def post(user_id: str, post_id: str, **attributes) -> dict:
    return {**keys.post_key(user_id, post_id), "status": "pending", **attributes}


def test_put_new_refuses_an_existing_key_and_keeps_the_first_item(table):
    table.put_new(post("u1", "p1", caption="first"), conflict_message="exists")
    with pytest.raises(Conflict, match="exists"):
        table.put_new(post("u1", "p1", caption="second"), conflict_message="exists")
    assert table.get(keys.post_key("u1", "p1"))["caption"] == "first"


def test_conditional_update_is_a_state_transition_that_happens_once(table):
    # Given a pending post
    table.put(post("u1", "p1"))
    claim = {"set_values": {"status": "processing"}, "condition": Attr("status").eq("pending")}

    # When two workers claim it
    claimed = table.update(keys.post_key("u1", "p1"), **claim)

    # Then the first wins and the second is told it lost
    assert claimed["status"] == "processing"
    with pytest.raises(Conflict):
        table.update(keys.post_key("u1", "p1"), **claim)


def test_update_sets_and_removes_attributes(table):
    table.put(post("u1", "p1", **keys.due_keys("p1", "2026-12-05T10:00:00Z")))
    updated = table.update(keys.post_key("u1", "p1"), set_values={"status": "processing"}, remove=["due_pk", "due_sk"])
    assert "due_pk" not in updated
    assert updated["status"] == "processing"


def test_transaction_is_all_or_nothing(table):
    # Given an email already taken
    table.put({**keys.email_key("a@example.com"), "user_id": "u0"})

    # When a transaction writes a profile and claims that email
    with pytest.raises(Conflict, match="taken"):
        table.transact(
            [
                TransactPut({**keys.profile_key("u1"), "email": "a@example.com"}),
                TransactPut({**keys.email_key("a@example.com"), "user_id": "u1"}, condition="attribute_not_exists(pk)"),
            ],
            conflict_message="taken",
        )

    # Then neither item was written
    assert table.get(keys.profile_key("u1")) is None
    assert table.get(keys.email_key("a@example.com"))["user_id"] == "u0"


def test_transaction_condition_check_guards_the_writes(table):
    with pytest.raises(Conflict):
        table.transact(
            [
                TransactCheck(keys.profile_key("nobody"), condition="attribute_exists(pk)"),
                TransactPut(post("nobody", "p1")),
            ],
            conflict_message="no such user",
        )
    assert table.get(keys.post_key("nobody", "p1")) is None


def test_p20_expired_items_are_invisible_to_reads_even_before_ttl_deletes_them(table):
    # Given a post whose expiry passed a second ago (TTL has not deleted it yet) and a live one
    table.put(post("u1", "old", expires_at=int((NOW - timedelta(seconds=1)).timestamp())))
    table.put(post("u1", "new", expires_at=int((NOW + timedelta(days=90)).timestamp())))

    # Then reads see only the live one
    assert table.get(keys.post_key("u1", "old")) is None
    assert [item["sk"] for item in table.query_page("USER#u1", sk_prefix="POST#").items] == ["POST#new"]
    # and an expired key may be written anew
    table.put_new(post("u1", "old"), conflict_message="exists")


def test_query_pages_cover_every_item_once_in_order(table):
    # Given 25 posts, 5 of them expired, interleaved
    for index in range(25):
        expires = NOW - timedelta(days=1) if index % 5 == 0 else NOW + timedelta(days=1)
        table.put(post("u1", f"{index:03d}", expires_at=int(expires.timestamp())))
    table.put(post("u2", "999"))

    # When they are read newest first, 6 per page
    seen, cursor, pages = [], None, 0
    while True:
        page = table.query_page("USER#u1", sk_prefix="POST#", limit=6, cursor=cursor, newest_first=True)
        pages += 1
        seen += [item["sk"] for item in page.items]
        assert len(page.items) <= 6
        cursor = page.next_cursor
        if cursor is None:
            break

    # Then every live item of that user comes exactly once, newest first, in full pages
    expected = [f"POST#{index:03d}" for index in reversed(range(25)) if index % 5]
    assert seen == expected
    assert pages == 4


def test_a_cursor_cannot_page_into_another_users_partition(table):
    table.put(post("victim", "p1"))
    forged = encode_cursor({"pk": "USER#victim", "sk": "POST#p0"})
    with pytest.raises(BadRequest, match="cursor"):
        table.query_page("USER#attacker", sk_prefix="POST#", cursor=forged)


@pytest.mark.parametrize("cursor", ["%%%", "bm90LWpzb24", encode_cursor({"pk": "USER#u1"}), "eyJwayI6IDF9"])
def test_malformed_cursors_are_a_bad_request(table, cursor):
    with pytest.raises(BadRequest):
        table.query_page("USER#u1", cursor=cursor)
