"""The sandbox's own pages: health, merged OpenAPI, offline Swagger UI, info and the mail outbox."""

import re

import pytest

from sandbox.server import Sandbox
from sandbox.template import load_template
from tests.sandbox.conftest import sandbox_config

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(sandbox_config()) as running:
        yield running


def test_health(http):
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_merges_every_functions_routes(http):
    # Given a function whose Powertools resolver declares GET /widgets/{widget_id}
    # When the merged document is fetched
    document = http.get("/openapi.json").json()

    # Then it holds that route, tagged with its function, and the real functions' documents too
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [
        {"url": http.base_url.copy_with(path="").__str__().rstrip("/").replace("127.0.0.1", "localhost")}
    ]
    operation = document["paths"]["/widgets/{widget_id}"]["get"]
    assert operation["x-function"] == "WidgetsFunction"
    assert [parameter["name"] for parameter in operation["parameters"]] == ["widget_id"]
    assert http.get("/widgets/w-7").json() == {"id": "w-7"}


def test_swagger_ui_is_served_from_local_files_only(http):
    page = http.get("/docs")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert re.findall(r"https?://", page.text) == []
    assert "validatorUrl: null" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == ["/docs/swagger-ui-bundle.min.js", "/docs/swagger-ui.min.css"]
    for asset in assets:
        response = http.get(asset)
        assert response.status_code == 200
        assert len(response.content) > 100_000


def test_info_names_the_running_stack(http, sandbox):
    info = http.get("/_sandbox/info").json()

    assert info["gateway"] == sandbox.gateway_url
    assert info["aws_endpoint"] == sandbox.aws_endpoint
    assert info["region"] == "eu-west-3"
    assert info["tiktok_simulator"] == "http://localhost:3100"
    assert info["table"] == sandbox.stack.ref("AppTable")
    assert info["bucket"] == sandbox.stack.ref("MediaBucket")
    assert info["schedule_group"] == sandbox.stack.ref("PostScheduleGroup")
    # and those names are real: the resources exist on the endpoint it gives
    assert sandbox.client("dynamodb").describe_table(TableName=info["table"])["Table"]["TableStatus"] == "ACTIVE"
    sandbox.client("s3").head_bucket(Bucket=info["bucket"])
    assert sandbox.client("scheduler").get_schedule_group(Name=info["schedule_group"])["State"] == "ACTIVE"


def test_sandbox_pages_are_never_in_the_template():
    paths = {
        event["Properties"]["Path"]
        for resource in load_template()["Resources"].values()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert not [path for path in paths if path.startswith("/_sandbox")]


def test_outbox_shows_mails_sent_through_ses_v1_and_v2_with_their_links(http, sandbox):
    # Given mails sent the ways the functions may send them
    link = "http://localhost:3000/verify?token=t0k&user=u-1"
    sandbox.client("sesv2").send_email(
        FromEmailAddress="no-reply@flowctory.com",
        Destination={"ToAddresses": ["ana@example.com"]},
        Content={
            "Simple": {"Subject": {"Data": "Confirm your e-mail"}, "Body": {"Text": {"Data": f"Open {link} now."}}}
        },
    )
    sandbox.client("ses").send_email(
        Source="no-reply@flowctory.com",
        Destination={"ToAddresses": ["bo@example.com"], "CcAddresses": ["cc@example.com"]},
        Message={
            "Subject": {"Data": "Reset your password"},
            "Body": {
                "Text": {"Data": "Reset: http://localhost:3000/reset?token=r&amp;x=1"},
                "Html": {"Data": '<p>Hello,</p><p><a href="http://localhost:3000/reset?token=r&amp;x=1">Reset</a></p>'},
            },
        },
    )
    raw = (
        "From: no-reply@flowctory.com\r\nTo: cy@example.com\r\nSubject: Your export\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nDownload: http://localhost:3000/export/e-1\r\n"
    )
    sandbox.client("sesv2").send_email(
        FromEmailAddress="no-reply@flowctory.com",
        Destination={"ToAddresses": ["cy@example.com"]},
        Content={"Raw": {"Data": raw.encode()}},
    )

    # When the outbox is read
    messages = http.get("/_sandbox/outbox").json()["messages"][-3:]

    # Then each mail shows its recipients, subject, text and links
    first, second, third = messages
    assert (first["to"], first["subject"], first["text"]) == (
        ["ana@example.com"],
        "Confirm your e-mail",
        f"Open {link} now.",
    )
    assert first["links"] == [link]
    assert (second["to"], second["cc"], second["subject"]) == (
        ["bo@example.com"],
        ["cc@example.com"],
        "Reset your password",
    )
    assert second["text"] == "Hello,\n\nReset"
    assert second["links"] == ["http://localhost:3000/reset?token=r&x=1"]
    assert (third["to"], third["subject"], third["links"]) == (
        ["cy@example.com"],
        "Your export",
        ["http://localhost:3000/export/e-1"],
    )
    assert third["text"].strip() == "Download: http://localhost:3000/export/e-1"
