"""`python -m sandbox.idp_sim [--port 3200]`: the simulated Google and Facebook sign-in, standalone."""

import argparse

from sandbox.idp_sim import DEFAULT_PORT, IdpServer, create_app, environment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    arguments = parser.parse_args()
    server = IdpServer(create_app(), host=arguments.host, port=arguments.port)
    print(f"Simulated Google and Facebook sign-in on {server.url}")
    for name, value in environment(server.url).items():
        print(f"  {name}={value}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
