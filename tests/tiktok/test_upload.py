"""Chunked FILE_UPLOAD against the simulator over HTTP: retries, resumes, expiry, processing outcomes."""

import hashlib
import time
import tracemalloc

import pytest

from flowctory.adapters.tiktok import errors
from flowctory.adapters.tiktok.client import UploadSourceError
from flowctory.adapters.tiktok.webhooks import parse_event
from flowctory.domain.chunks import MIN_CHUNK_SIZE, plan_chunks
from tests.tiktok.conftest import WEB
from tests.tiktok.test_posting import PUBLIC, SHORT, post_info
from tests.tiktok.videos import padded_mp4_pieces, sha256_of

pytestmark = pytest.mark.e2e


def pieces_of(data: bytes, size: int = 65_536):
    return (data[i : i + size] for i in range(0, len(data), size))


def upload_video(client, grant, data: bytes, content_type: str, privacy="SELF_ONLY", chunk_size=None):
    plan = plan_chunks(len(data), chunk_size)
    init = client.init_direct_post(grant.access_token, post_info(privacy), plan)
    report = client.upload(init.upload_url, plan, pieces_of(data), content_type=content_type)
    return init, plan, report


def test_150_mb_upload_with_a_5xx_and_a_416_still_completes(connect, client, sim, video_files):
    # Given a 150 MB video (a real MP4 padded with a `free` box), streamed in 1 MiB pieces
    total = 150_000_000
    prefix = video_files.mp4_faststart.data
    expected_sha, size = sha256_of(padded_mp4_pieces(prefix, total))
    assert size == total
    grant = connect(creator_index=PUBLIC).grant
    plan = plan_chunks(total)
    assert plan.total_chunk_count == 15
    init = client.init_direct_post(grant.access_token, post_info("PUBLIC_TO_EVERYONE"), plan)

    # and TikTok failing the 3rd PUT with a 503 and answering the 9th with a 416
    sim.fault("upload", status=503, skip=2)
    sim.fault("upload", status=416, skip=8)

    # When the client uploads it
    started = time.monotonic()
    tracemalloc.start()
    try:
        report = client.upload(init.upload_url, plan, padded_mp4_pieces(prefix, total), content_type="video/mp4")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started

    # Then every chunk arrived once, in order, and the bytes TikTok holds are the video's
    assert report.retries == 1 and len(report.resumes) == 1
    assert report.chunks_sent == 15 and report.bytes_sent == total
    record = sim.publish(init.publish_id)
    assert record["received_bytes"] == total
    assert record["sha256"] == expected_sha
    assert [c["first_byte"] for c in record["chunks"]] == [r.first_byte for r in plan.ranges]
    # and memory stayed within a few chunks (the simulator's share included), far below the video's size
    assert peak < 4 * plan.max_chunk_bytes
    assert elapsed < 20

    # and TikTok processed it: published once, for this creator
    sim.wait_idle()
    status = client.fetch_status(grant.access_token, init.publish_id)
    assert status.status == "PUBLISH_COMPLETE" and status.uploaded_bytes == total
    creator = sim.published()["creators"][grant.open_id]
    assert creator["count"] == 1 and creator["by_sha256"] == {expected_sha: 1}


def test_dropped_connection_mid_chunk_is_retried(connect, client, sim, video_files):
    # Given TikTok hanging up halfway through the first chunk
    sim.fault("upload", drop=True)
    data = b"".join(padded_mp4_pieces(video_files.mp4.data, 12_000_000))

    # When the client uploads in 5 MiB chunks
    init, plan, report = upload_video(client, connect().grant, data, "video/mp4", chunk_size=MIN_CHUNK_SIZE)

    # Then it retried that chunk and the upload is whole
    assert plan.total_chunk_count == 2 and report.retries == 1
    assert sim.publish(init.publish_id)["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("style", ["inclusive", "count"])
def test_lost_answer_resumes_from_tiktoks_offset(connect, client, sim, video_files, style):
    # Given TikTok storing the 2nd chunk but its answer being lost (a 503 after the fact),
    # and TikTok writing the resume offset as either HTTP's last byte or the byte count
    sim.configure(content_range_style=style)
    sim.fault("upload", status=503, skip=1, after=True)
    data = b"".join(padded_mp4_pieces(video_files.mp4_faststart.data, 16_000_000))

    # When the client retries and gets a 416 with TikTok's Content-Range
    init, plan, report = upload_video(client, connect().grant, data, "video/mp4", chunk_size=MIN_CHUNK_SIZE)

    # Then it skips to the chunk after the one TikTok already has, sending nothing twice
    assert report.resumes == [plan.range(2).first_byte]
    record = sim.publish(init.publish_id)
    assert [c["first_byte"] for c in record["chunks"]] == [r.first_byte for r in plan.ranges]
    assert record["sha256"] == hashlib.sha256(data).hexdigest()


def test_416_asking_for_earlier_bytes_rewinds_the_stream(connect, client, sim, video_files):
    data = b"".join(padded_mp4_pieces(video_files.mp4.data, 16_000_000))
    plan = plan_chunks(len(data), MIN_CHUNK_SIZE)
    grant = connect().grant
    # Given TikTok claiming, at the 3rd chunk, to hold only the first one
    claim = f"bytes 0-{plan.range(0).last_byte}/{len(data)}"
    sim.fault("upload", status=416, skip=2, headers={"Content-Range": claim})

    # When the upload has no way back, it fails clearly
    init = client.init_direct_post(grant.access_token, post_info(), plan)
    with pytest.raises(errors.TikTokUploadError):
        client.upload(init.upload_url, plan, pieces_of(data), content_type="video/mp4")

    # And with a rewind (a new ranged read of the source) it completes
    sim.fault("upload", status=416, skip=2, headers={"Content-Range": claim})
    init = client.init_direct_post(grant.access_token, post_info(), plan)
    offsets: list[int] = []

    def rewind(offset: int):
        offsets.append(offset)
        return pieces_of(data[offset:])

    report = client.upload(init.upload_url, plan, pieces_of(data), content_type="video/mp4", rewind=rewind)
    assert offsets == [plan.range(1).first_byte]
    assert report.resumes[0] == plan.range(1).first_byte
    assert sim.publish(init.publish_id)["sha256"] == hashlib.sha256(data).hexdigest()


def test_persistent_5xx_gives_up_with_a_retryable_error(connect, client, sim, video_files):
    sim.fault("upload", status=502, count=10)
    with pytest.raises(errors.TikTokUnavailable) as caught:
        upload_video(client, connect().grant, video_files.mp4.data, "video/mp4")
    assert caught.value.retryable is True and caught.value.http_status == 502


def test_upload_url_expires_after_an_hour(connect, client, sim, video_files):
    grant = connect().grant
    plan = plan_chunks(len(video_files.mp4.data))
    init = client.init_direct_post(grant.access_token, post_info(), plan)
    sim.advance(3_601)
    with pytest.raises(errors.TikTokUploadExpired) as caught:
        client.upload(init.upload_url, plan, [video_files.mp4.data], content_type="video/mp4")
    assert (caught.value.http_status, caught.value.retryable) == (403, True)


def test_unknown_upload_task_is_404(connect, client, sim, video_files):
    plan = plan_chunks(len(video_files.mp4.data))
    with pytest.raises(errors.TikTokUploadError) as caught:
        client.upload(
            f"{sim.url}/video/?upload_id=nope&upload_token=nope", plan, [video_files.mp4.data], content_type="video/mp4"
        )
    assert (caught.value.http_status, caught.value.retryable) == (404, False)


def test_a_stream_shorter_or_longer_than_announced_is_refused(connect, client, video_files):
    data = video_files.mp4.data
    grant = connect().grant
    for sent in (data[:-1], data + b"x"):
        plan = plan_chunks(len(data))
        init = client.init_direct_post(grant.access_token, post_info(), plan)
        with pytest.raises(UploadSourceError):
            client.upload(init.upload_url, plan, [sent], content_type="video/mp4")


def test_put_rules(connect, client, sim):
    data = bytes(range(256)) * 45_000  # 11,520,000 bytes: two 5 MiB chunks, the remainder in the last
    plan = plan_chunks(len(data), MIN_CHUNK_SIZE)
    init = client.init_direct_post(connect().grant.access_token, post_info(), plan)
    url = init.upload_url.get_secret_value()
    first, last = plan.range(0), plan.range(1)

    def put(chunk, *, content_type="video/mp4", content_range=None):
        headers = {"Content-Type": content_type, "Content-Range": content_range or chunk.content_range(len(data))}
        return WEB.put(url, content=data[chunk.first_byte : chunk.last_byte + 1], headers=headers)

    out_of_order = put(last)
    assert (out_of_order.status_code, out_of_order.headers["content-range"]) == (416, f"bytes */{len(data)}")
    assert put(first, content_range="bytes=0-5").status_code == 400
    assert put(first, content_range=f"bytes 0-{first.last_byte}/{len(data) + 1}").status_code == 400
    assert put(first, content_type="text/plain").status_code == 400
    accepted = put(first)
    assert (accepted.status_code, accepted.headers["content-range"]) == (206, f"bytes 0-{first.last_byte}/{len(data)}")
    assert put(first).status_code == 416
    done = put(last)
    assert (done.status_code, done.headers["content-range"]) == (201, f"bytes 0-{len(data) - 1}/{len(data)}")
    assert put(last).status_code == 416


PROCESSING_CASES = [
    ("mp4", PUBLIC, None),
    ("mov", PUBLIC, None),
    ("webm_vp9", PUBLIC, None),
    ("webm_vp8", PUBLIC, None),
    ("truncated", PUBLIC, "file_format_check_failed"),
    ("no_moov", PUBLIC, "file_format_check_failed"),
    ("not_video", PUBLIC, "file_format_check_failed"),
    ("low_fps", PUBLIC, "frame_rate_check_failed"),
    ("small", PUBLIC, "picture_size_check_failed"),
    ("long", SHORT, "duration_check_failed"),
    ("long", PUBLIC, None),  # 61 s is fine for a creator allowed 600 s
]


@pytest.mark.parametrize(("name", "creator", "fail_reason"), PROCESSING_CASES)
def test_processing_reads_the_real_container(
    connect, client, sim, video_files, webhook_receiver, name, creator, fail_reason
):
    # Given a real (or broken) video uploaded for a creator
    video = getattr(video_files, name)
    grant = connect(creator_index=creator).grant
    init, _, _ = upload_video(client, grant, video.data, video.content_type)

    # When TikTok has processed it
    sim.wait_idle()
    status = client.fetch_status(grant.access_token, init.publish_id)

    # Then the outcome matches the file's real metadata, in the status and in a signed webhook
    events = [parse_event(body) for _, body in webhook_receiver.received]
    if fail_reason is None:
        assert (status.status, status.fail_reason) == ("PUBLISH_COMPLETE", None)
        assert [e.event for e in events] == ["post.publish.complete"]
        assert sim.published()["creators"][grant.open_id]["count"] == 1
    else:
        assert (status.status, status.fail_reason) == ("FAILED", fail_reason)
        assert [(e.event, e.content["reason"]) for e in events] == [("post.publish.failed", fail_reason)]
        assert sim.published()["total"] == 0
        assert errors.publish_failure(status.fail_reason).retryable is False
    assert all(e.content["publish_id"] == init.publish_id for e in events)


@pytest.mark.parametrize("post_id_format", ["list", "scalar"])
def test_public_posts_get_an_id_after_moderation_private_ones_never(connect, client, sim, video_files, post_id_format):
    sim.configure(post_id_format=post_id_format, moderation_delay_seconds=30)
    grant = connect().grant
    public, _, _ = upload_video(client, grant, video_files.mp4.data, "video/mp4", privacy="PUBLIC_TO_EVERYONE")
    private, _, _ = upload_video(client, grant, video_files.mp4.data, "video/mp4", privacy="SELF_ONLY")
    sim.wait_idle()

    # Before moderation: published, but no public id yet
    before = client.fetch_status(grant.access_token, public.publish_id)
    assert (before.status, before.post_ids) == ("PUBLISH_COMPLETE", ())

    # After moderation: the public post has its id (kept as a string, it exceeds 2**53)
    sim.advance(31)
    sim.wait_idle()
    after = client.fetch_status(grant.access_token, public.publish_id)
    assert len(after.post_ids) == 1 and int(after.post_ids[0]) > 2**53
    assert client.fetch_status(grant.access_token, private.publish_id).post_ids == ()


def test_inbox_upload_waits_for_the_creator(connect, client, sim, video_files, webhook_receiver):
    grant = connect().grant
    plan = plan_chunks(len(video_files.mp4.data))
    init = client.init_inbox_upload(grant.access_token, plan)
    client.upload(init.upload_url, plan, [video_files.mp4.data], content_type="video/mp4")
    sim.wait_idle()
    assert client.fetch_status(grant.access_token, init.publish_id).status == "SEND_TO_USER_INBOX"
    assert sim.published()["total"] == 0  # a notification is not a post

    assert WEB.post(f"{sim.url}/_sim/publishes/{init.publish_id}/inbox_post", json={}).status_code == 200
    sim.wait_idle()
    assert client.fetch_status(grant.access_token, init.publish_id).status == "PUBLISH_COMPLETE"
    events = [parse_event(body) for _, body in webhook_receiver.received]
    assert [(e.event, e.content["publish_type"]) for e in events] == [
        ("post.publish.inbox_delivered", "INBOX_SHARE"),
        ("post.publish.complete", "INBOX_SHARE"),
    ]


def test_revoking_during_processing_fails_the_publish(connect, client, sim, video_files):
    sim.configure(processing_delay_seconds=60)
    grant = connect().grant
    init, _, _ = upload_video(client, grant, video_files.mp4.data, "video/mp4")
    client.revoke(grant.access_token)
    sim.advance(61)
    sim.wait_idle()
    record = sim.publish(init.publish_id)
    assert (record["status"], record["fail_reason"]) == ("FAILED", "auth_removed")
    assert sim.published()["total"] == 0


@pytest.fixture
def file_host(video_files):
    """A local host serving the fixture videos (the app's verified media domain, for PULL_FROM_URL)."""
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    @Request.application
    def serve(request):
        name = request.path.strip("/")
        if name == "moved":
            return Response("", status=302, headers={"Location": "/mp4"})
        return Response(getattr(video_files, name).data, content_type="video/mp4")

    server = make_server("127.0.0.1", 0, serve, threaded=True)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "status", "fail_reason"), [("mp4", "PUBLISH_COMPLETE", None), ("moved", "FAILED", "video_pull_failed")]
)
def test_pull_from_a_verified_url(connect, sim, file_host, path, status, fail_reason):
    # Given the media host verified for the app, TikTok downloads the video itself (no redirects)
    sim.configure(verified_url_prefixes=[file_host])
    grant = connect().grant
    body = {
        "post_info": post_info().to_api(),
        "source_info": {"source": "PULL_FROM_URL", "video_url": file_host + path},
    }
    headers = {"Authorization": f"Bearer {grant.access_token.get_secret_value()}"}
    response = WEB.post(f"{sim.url}/v2/post/publish/video/init/", json=body, headers=headers)
    publish_id = response.json()["data"]["publish_id"]
    assert publish_id.startswith("v_pub_url~v2.") and "upload_url" not in response.json()["data"]

    sim.wait_for(lambda: sim.publish(publish_id)["status"] in ("PUBLISH_COMPLETE", "FAILED"))
    record = sim.publish(publish_id)
    assert (record["status"], record["fail_reason"]) == (status, fail_reason)


def test_a_file_upload_cannot_be_cancelled(connect, sim, video_files):
    grant = connect().grant
    headers = {"Authorization": f"Bearer {grant.access_token.get_secret_value()}"}
    body = {"post_info": post_info().to_api(), "source_info": plan_chunks(1000).source_info()}
    publish_id = WEB.post(f"{sim.url}/v2/post/publish/video/init/", json=body, headers=headers).json()["data"][
        "publish_id"
    ]
    response = WEB.post(f"{sim.url}/v2/post/publish/cancel/", json={"publish_id": publish_id}, headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "publish_not_cancellable")


def test_endless_416s_give_up_instead_of_looping(connect, client, sim, video_files):
    sim.fault("upload", status=416, count=50)
    with pytest.raises(errors.TikTokUploadError) as caught:
        upload_video(client, connect().grant, video_files.mp4.data, "video/mp4")
    assert caught.value.retryable is False
    assert [f["fired"] for f in sim.faults()] == [1 + client.retry.attempts + 1]
