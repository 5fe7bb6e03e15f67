"""`python -m sandbox.tiktok_sim`: run the TikTok simulator on 127.0.0.1:3100 until interrupted."""

import argparse
import json
import logging

from sandbox.tiktok_sim import SimulatorConfig, SimulatorServer, TikTokSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.tiktok_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only by default)")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--client-key", help="the app's client key")
    parser.add_argument("--client-secret", help="the app's client secret (signs webhooks)")
    parser.add_argument("--redirect-uri", action="append", help="a registered redirect URI (repeatable)")
    parser.add_argument("--webhook-url", help="where signed webhook events are POSTed")
    parser.add_argument("--config", help="JSON object of further settings (see /_sim/config)")
    args = parser.parse_args(argv)

    changes = json.loads(args.config) if args.config else {}
    for name, value in (
        ("client_key", args.client_key),
        ("client_secret", args.client_secret),
        ("redirect_uris", args.redirect_uri),
        ("webhook_url", args.webhook_url),
    ):
        if value:
            changes[name] = value
    config = SimulatorConfig().updated(changes)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    server = SimulatorServer(TikTokSimulator(config), host=args.host, port=args.port)
    print(f"TikTok simulator on {server.url} (authorize page: {server.url}/v2/auth/authorize/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
