"""A TikTok simulator (OAuth v2, user info, Content Posting API, chunked uploads, signed webhooks).

`create_app()` gives the WSGI application (for the sandbox to mount), `SimulatorServer` serves it
on a local port (tests use port 0), and `python -m sandbox.tiktok_sim` runs it standalone on
127.0.0.1:3100. The control API under `/_sim/` injects faults, flips switches, moves the clock and
reports what was published per creator:

    GET  /_sim/health                      liveness
    POST /_sim/reset                       initial config and creators, empty state
    GET|PATCH /_sim/config                 every switch of SimulatorConfig (lifetime_profile, pkce, mb_unit, ...)
    GET|POST|DELETE /_sim/faults           {"endpoint", "status", "error_code", "message", "delay_seconds",
                                            "count", "skip", "drop", "after", "raw_body", "content_type", "headers"}
    GET|POST /_sim/clock                   {"advance_seconds": n}: expiry, 24 h caps and delays use this clock
    GET /_sim/creators, PATCH /_sim/creators/<open_id>     e.g. {"banned": true} or {"is_private": true}
    GET /_sim/publishes[/<publish_id>]     every publish: status, bytes received, SHA-256, chunks
    POST /_sim/publishes/<id>/inbox_post   the creator posts an inbox draft from the TikTok app
    GET /_sim/published                    per creator: posts and how many times each video (by SHA-256) went up
    GET /_sim/webhooks                     every delivery and its attempts
    GET /_sim/idle                         true when no processing or delivery is due

Fault endpoints are the route names: authorize, token, revoke, user_info, creator_info, video_init,
inbox_init, status, cancel, upload.
"""

from collections.abc import Iterable

from sandbox.tiktok_sim.app import TikTokSimulator
from sandbox.tiktok_sim.config import Creator, SimulatorConfig, default_creators
from sandbox.tiktok_sim.server import SimulatorServer
from sandbox.tiktok_sim.service import create_service

__all__ = [
    "Creator",
    "SimulatorConfig",
    "SimulatorServer",
    "TikTokSimulator",
    "create_app",
    "create_service",
    "default_creators",
]


def create_app(config: SimulatorConfig | None = None, creators: Iterable[Creator] | None = None) -> TikTokSimulator:
    """A fresh simulator; it is a WSGI application (call `.close()` when done)."""
    return TikTokSimulator(config, creators)
