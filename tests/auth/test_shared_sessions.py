"""The session guard as any other HTTP function uses it (`sessions.install`): verify, slide, CSRF."""

import pytest

from flowctory import sessions, wiring
from flowctory.http import create_app
from tests.auth.conftest import Browser


@pytest.fixture
def other_function(browser, lambda_context):
    """A resolver like the schedule function's, guarded by the shared sessions module."""
    app = create_app()
    sessions.install(app, wiring.sessions)

    @app.get("/private")
    def get_private() -> dict[str, str]:
        session = sessions.current_session(app)
        return {"user_id": session.user_id, "timezone": session.timezone}

    @app.post("/private")
    def change_private() -> dict[str, bool]:
        sessions.current_session(app)
        return {"changed": True}

    return Browser(invoke=lambda event: app.resolve(event, lambda_context), origin=browser.origin, jar=browser.jar)


def test_another_function_sees_the_session_and_slides_it(browser, other_function, auth_env):
    user_id = browser.sign_up("ada@example.com").body["user"]["id"]
    auth_env.advance(minutes=20)
    answer = other_function.request("GET", "/private")
    assert answer.status == 200 and answer.body == {"user_id": user_id, "timezone": "Europe/Paris"}
    assert "authjs.session-token" in answer.cookie_names
    auth_env.advance(minutes=20)  # 40 minutes after sign-in, 20 after the last request
    assert other_function.request("GET", "/private").status == 200


def test_another_function_refuses_strangers_and_forged_posts(browser, other_function):
    assert other_function.request("GET", "/private").status == 401
    browser.sign_up("ada@example.com")
    assert other_function.request("POST", "/private", csrf=None).error_code == "csrf_failed"
    assert other_function.request("POST", "/private").body == {"changed": True}
