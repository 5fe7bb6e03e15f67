"""Access limited to need (promise P32), first half: per-user isolation on every route. A signed-in user
who names another user's post, TikTok account or consent gets a 404 and changes nothing; every list and
document answers with their own data only. The route table is checked against template.yaml, so a new
route that names a resource fails here until it has its case."""

import importlib
import json
from typing import Any

from flowctory.models.posts import PostStatus
from sandbox.template import http_routes, load_template
from tests.auth.conftest import LOCAL_ORIGIN, Browser

# Routes whose path names no user resource (the user is the session's, or the route is public).
NO_RESOURCE_IN_PATH = {"/auth/oauth/{provider}/start", "/auth/oauth/{provider}/callback"}


def _browser(world: Any, lambda_context: Any) -> Browser:
    """A browser whose requests API Gateway routes to the function the template names."""
    routes = {(route.method, route.path): route.function_id for route in http_routes(load_template())}
    modules = {
        "AuthFunction": "functions.auth.app",
        "ScheduleFunction": "functions.schedule.app",
        "TikTokOAuthFunction": "functions.tiktok_oauth.app",
        "BillingFunction": "functions.billing.app",
    }

    def matches(parts: list[str], pattern: list[str]) -> bool:
        return len(parts) == len(pattern) and all(
            part == piece or (piece.startswith("{") and piece.endswith("}"))
            for part, piece in zip(parts, pattern, strict=True)
        )

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        method, parts = event["requestContext"]["http"]["method"], event["rawPath"].strip("/").split("/")
        function_id = next(
            (
                function
                for (verb, path), function in routes.items()
                if verb == method and matches(parts, path.strip("/").split("/"))
            ),
            "AuthFunction",
        )
        return dict(importlib.import_module(modules[function_id]).lambda_handler(event, lambda_context))

    return Browser(invoke=invoke, origin=LOCAL_ORIGIN)


def test_p32_no_route_gives_a_user_access_to_another_users_data(world, lambda_context):
    # Given Ada with a TikTok account, a waiting post and a published one, and Bob with his own account
    ada = _browser(world, lambda_context)
    assert ada.sign_up("ada@example.com").status == 201
    ada_id = ada.request("GET", "/me").body["id"]
    ada_account = world.connect_account(ada_id, 0)
    waiting = world.add_post(ada_id, ada_account, "ada-waiting-post").post_id
    failed = world.add_post(ada_id, ada_account, "ada-failed-post", status=PostStatus.FAILED).post_id
    bob = _browser(world, lambda_context)
    assert bob.sign_up("bob@example.com").status == 201
    bob_id = bob.request("GET", "/me").body["id"]
    world.connect_account(bob_id, 1)
    before = [item for item in world.items() if ada_id in json.dumps(item, default=repr)]

    # When Bob names Ada's resources on every route that takes one
    by_route = {
        "/posts/{post_id}": [
            bob.request("GET", f"/posts/{waiting}"),
            bob.request("PATCH", f"/posts/{waiting}", json_body={"caption": "owned by bob"}),
            bob.request("DELETE", f"/posts/{waiting}"),
        ],
        "/posts/{post_id}/retry": [bob.request("POST", f"/posts/{failed}/retry")],
        "/tiktok/accounts/{open_id}/creator-info": [bob.request("GET", f"/tiktok/accounts/{ada_account}/creator-info")],
        "/tiktok/accounts/{open_id}": [bob.request("DELETE", f"/tiktok/accounts/{ada_account}")],
        "/me/consents/{kind}": [bob.request("DELETE", f"/me/consents/post_declaration:{waiting}")],
    }

    # Then each is a 404, whatever the method
    statuses = {path: [answer.status for answer in answers] for path, answers in by_route.items()}
    assert statuses == {path: [404] * len(answers) for path, answers in by_route.items()}, statuses
    # and every route of the template that names a resource was tried
    named = {route.path for route in http_routes(load_template()) if "{" in route.path} - NO_RESOURCE_IN_PATH
    assert named == set(by_route)

    # And what Bob lists or downloads holds nothing of Ada
    answers = [
        bob.request("GET", "/me"),
        bob.request("GET", "/me/export"),
        bob.request("GET", "/me/consents"),
        bob.request("GET", "/posts"),
        bob.request("GET", "/tiktok/accounts"),
        bob.request("GET", "/billing/subscription"),
        bob.request("GET", "/auth/session"),
    ]
    assert [answer.status for answer in answers] == [200] * len(answers)
    text = json.dumps([answer.body for answer in answers])
    assert ada_id not in text and ada_account not in text and "ada@example.com" not in text
    assert waiting not in text and failed not in text

    # And nothing of Ada changed, her TikTok grant included
    assert [item for item in world.items() if ada_id in json.dumps(item, default=repr)] == before
    assert not world.grant_revoked(ada_account)
