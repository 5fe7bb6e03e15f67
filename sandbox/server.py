"""The whole sandbox in one object: moto, the stack from template.yaml, the gateway, the runner, the sweepers.

`Sandbox(config).start()` binds the ports (so a taken port fails at once, with its number), starts
moto in server mode, creates the stack of template.yaml on it, starts the simulators that exist,
then the gateway, the scheduler runner and the sweepers. `stop()` stops them in the reverse
order, joins their threads and closes every listening socket. Tests build one with port 0
(random ports), extra test-only functions and routes, and their own periods.

Nothing is persisted: the stack lives in moto's memory and is created afresh at each start.
moto's recorder could replay the previous session's requests, but replay recreates the KMS key
under a new id (so every stored ciphertext becomes undecryptable) and regenerates secrets, so a
replayed stack would look alive and be subtly broken. Starting clean each time is honest.
"""

import functools
import json
import logging
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from flowctory.clock import Clock, utcnow
from flowctory.domain import emails
from sandbox import outbox
from sandbox.background import Periodic
from sandbox.docs import SWAGGER_ASSETS, merge_openapi, swagger_asset, swagger_page
from sandbox.gateway import CorsPolicy, Gateway, LocalRoute
from sandbox.lambda_invoke import AsyncInvokes
from sandbox.moto_app import moto_app
from sandbox.runtime import (
    FunctionRuntime,
    FunctionSpec,
    add_layers_to_path,
    sandbox_environment,
    template_functions,
)
from sandbox.scheduler import LAMBDA_RETRY_DELAYS, SchedulerRunner
from sandbox.services import DEFAULT_PORTS, Service, ServiceContext, discover
from sandbox.stack import ACCOUNT_ID, REGION, LocalStack, bootstrap
from sandbox.sweepers import LifecycleSweeper, TtlSweeper
from sandbox.template import ROOT, HttpRoute, http_routes, load_template, resources_of_type

log = logging.getLogger("sandbox")

API_TITLE = "Flowctory API (local sandbox)"
CLIENT_CONFIG = Config(s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3})
# Console pages the service e-mails link to (every `..._PAGE` of domain/emails.py); the console itself
# routes in the URL's fragment.
CONSOLE_PAGES = tuple(sorted(value for name, value in vars(emails).items() if name.endswith("_PAGE")))
PERSISTENCE = "none: the stack lives in memory and is created afresh at each start"


@dataclass
class SandboxConfig:
    """Ports, periods and test hooks. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    public_host: str = "localhost"
    port: int = DEFAULT_PORTS["gateway"]
    aws_port: int = 4566
    tiktok_port: int = DEFAULT_PORTS["tiktok"]
    idp_port: int = DEFAULT_PORTS["idp"]
    scheduler_interval: float = 1.0
    ttl_sweep_interval: float = 60.0
    lifecycle_sweep_interval: float = 300.0
    retry_delays: tuple[float, ...] = LAMBDA_RETRY_DELAYS
    static_dir: Path | None = ROOT / "web"
    load_services: bool = True
    preload_handlers: bool = True
    extra_functions: Callable[[LocalStack], Mapping[str, FunctionSpec]] | None = None
    extra_routes: Sequence[HttpRoute] = ()
    clock: Clock = field(default=utcnow)


class _Server:
    """A werkzeug server on its own thread; bound at creation, so a taken port fails at once."""

    def __init__(self, name: str, host: str, port: int, app: Any, **options: Any) -> None:
        self.name = name
        # Bound here rather than by werkzeug, which answers a taken port with sys.exit(1): the
        # caller gets an OSError (EADDRINUSE) it can report, and tests are not ended.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restart right after a stop
            listener.bind((host, port))
            listener.listen(128)
            self._server: BaseWSGIServer = make_server(
                host, listener.getsockname()[1], app, threaded=True, fd=listener.fileno(), **options
            )
        finally:
            listener.close()  # the server holds its own duplicate of the socket
        # A short poll interval makes stop() quick; the cost is a few wake-ups a second while idle.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{name}", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(10)
        self._server.server_close()


class Sandbox:
    """The local stack; see the module docstring."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.gateway_url = ""
        self.aws_endpoint = ""
        self.stack: LocalStack | None = None
        self.runtime: FunctionRuntime | None = None
        self.gateway: Gateway | None = None
        self.scheduler: SchedulerRunner | None = None
        self.ttl_sweeper: TtlSweeper | None = None
        self.lifecycle_sweeper: LifecycleSweeper | None = None
        self.services: list[Service] = []
        self.load_errors: dict[str, str] = {}
        self._servers: list[_Server] = []
        self._loops: list[Periodic] = []
        self._session: boto3.session.Session | None = None
        self._started_at = 0.0
        self.ready_seconds = 0.0

    # --- lifecycle ---

    def start(self) -> "Sandbox":
        self._started_at = time.monotonic()
        config = self.config
        try:
            template = load_template()
            add_layers_to_path(template)
            gateway_server = _Server("gateway", config.host, config.port, self._serve)
            self._servers.append(gateway_server)
            self.gateway_url = f"http://{config.public_host}:{gateway_server.port}"
            self._start_moto()
            self._session = EndpointSession(self.aws_endpoint)
            stack = bootstrap(self._session, parameters={"WebOrigin": self.gateway_url})
            self.stack = stack
            functions = template_functions(stack)
            if config.extra_functions:
                functions.update(config.extra_functions(stack))
            self.runtime = FunctionRuntime(functions, sandbox_environment(self.aws_endpoint))
            mounts = self._start_services(stack)
            if config.preload_handlers:
                self.load_errors = self.runtime.preload()
            self.gateway = Gateway(
                self.runtime,
                [*http_routes(template), *config.extra_routes],
                cors=CorsPolicy.from_stack(stack),
                local_routes=self._local_routes(),
                mounts=mounts,
                static_dir=config.static_dir,
            )
            gateway_server.start()
            self._start_loops()
        except BaseException:
            self.stop()
            raise
        self.ready_seconds = time.monotonic() - self._started_at
        return self

    def stop(self) -> None:
        """Stop everything that was started, in reverse order; safe to call twice."""
        for loop in reversed(self._loops):
            loop.stop()
        self._loops.clear()
        gateways = [server for server in self._servers if server.name == "gateway"]
        for server in gateways:
            server.stop()
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:
                log.exception("the %s simulator did not stop cleanly", service.name)
        self.services.clear()
        if self.runtime is not None:
            self.runtime.close()
        for server in [server for server in self._servers if server.name != "gateway"]:
            server.stop()
        self._servers.clear()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client on the sandbox's AWS endpoint."""
        assert self._session is not None, "start the sandbox first"
        return self._session.client(service, region_name=REGION)  # type: ignore[call-overload]

    # --- what the pages show ---

    def info(self) -> dict[str, Any]:
        assert self.stack is not None and self.runtime is not None and self.gateway is not None
        template = self.stack.template

        def first(resource_type: str) -> str | None:
            ids = list(resources_of_type(template, resource_type))
            return self.stack.ref(ids[0]) if ids and self.stack else None

        services = {service.name: service.url for service in self.services}
        return {
            "gateway": self.gateway_url,
            "console": self.gateway_url + "/" if self.config.static_dir and self.config.static_dir.is_dir() else None,
            "docs": f"{self.gateway_url}/docs",
            "openapi": f"{self.gateway_url}/openapi.json",
            "outbox": f"{self.gateway_url}/_sandbox/outbox",
            "tiktok_simulator": services.get("tiktok") or f"http://{self.config.public_host}:{self.config.tiktok_port}",
            "aws_endpoint": self.aws_endpoint,
            "region": REGION,
            "account_id": ACCOUNT_ID,
            "table": first("AWS::DynamoDB::Table"),
            "bucket": first("AWS::S3::Bucket"),
            "schedule_group": first("AWS::Scheduler::ScheduleGroup"),
            "dead_letter_queue": first("AWS::SQS::Queue"),
            "kms_key_alias": first("AWS::KMS::Alias"),
            "functions": {spec.function_id: spec.arn for spec in self.runtime.functions.values()},
            "routes": [f"{route.route_key} -> {route.function_id}" for route in self.gateway.routes.routes],
            "services": services,
            "handler_load_errors": self.load_errors,
            "persistence": PERSISTENCE,
        }

    def openapi(self) -> dict[str, Any]:
        """The merged OpenAPI of every function's resolver (`app`); a resolver shared by several
        functions is read once."""
        assert self.runtime is not None and self.gateway is not None
        sources, seen = [], set()
        for function_id in sorted(self.runtime.functions):
            try:
                module = self.runtime.module(function_id)
            except Exception:
                log.exception("cannot import %s for the OpenAPI document", function_id)
                continue
            app = getattr(module, "app", None)
            if app is not None and hasattr(app, "get_openapi_json_schema") and id(app) not in seen:
                seen.add(id(app))
                sources.append((function_id, app))
        table = self.gateway.routes

        def owner(method: str, path: str) -> str | None:
            match = table.match(method, path)
            return match.route.function_id if match and match.route.path == path else None

        return merge_openapi(sources, title=API_TITLE, version="local", server_url=self.gateway_url, route_owner=owner)

    # --- internals ---

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.gateway is None:
            response = Response(json.dumps({"message": "Service Unavailable"}), 503, content_type="application/json")
            return response(environ, start_response)
        return self.gateway(environ, start_response)

    def _start_moto(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler

        # Lambda's asynchronous Invoke of a local function goes to the scheduler runner (once it runs).
        app = AsyncInvokes(
            moto_app(ACCOUNT_ID), lambda: self.scheduler, arn_prefix=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
        )
        server = _Server("moto", self.config.host, self.config.aws_port, app, request_handler=MotoRequestHandler)
        self._servers.append(server)
        server.start()
        self.aws_endpoint = f"http://{self.config.host}:{server.port}"
        # moto's state is process-wide: start from nothing, whatever ran before in this process.
        reset = urllib.request.Request(f"{self.aws_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - local
        with urllib.request.urlopen(reset, timeout=10) as answer:  # noqa: S310 - our own local endpoint
            answer.read()

    def _start_services(self, stack: LocalStack) -> dict[str, Any]:
        assert self.runtime is not None
        if not self.config.load_services:
            return {}
        context = ServiceContext(
            host=self.config.host,
            gateway_url=self.gateway_url,
            aws_endpoint=self.aws_endpoint,
            stack=stack,
            ports={"gateway": self._servers[0].port, "tiktok": self.config.tiktok_port, "idp": self.config.idp_port},
        )
        mounts: dict[str, Any] = {}
        for service in discover(context):
            try:
                service.start()
            except Exception:  # the rest of the sandbox is still useful without this simulator
                log.exception("the %s simulator did not start", service.name)
                continue
            self.services.append(service)
            self.runtime.add_environment(service.environment())
            mounts.update(service.mounts())
            log.info("%s simulator started at %s", service.name, service.url)
        return mounts

    def _start_loops(self) -> None:
        assert self.runtime is not None
        config = self.config
        self.scheduler = SchedulerRunner(
            self.client("scheduler"),
            self.client("sqs"),
            self.runtime,
            clock=config.clock,
            retry_delays=config.retry_delays,
        )
        self.ttl_sweeper = TtlSweeper(self.client("dynamodb"))
        self.lifecycle_sweeper = LifecycleSweeper(self.client("s3"))
        self._loops = [
            Periodic(
                "scheduler", config.scheduler_interval, self.scheduler.tick, clock=config.clock, run_at_start=True
            ),
            Periodic("ttl-sweeper", config.ttl_sweep_interval, self.ttl_sweeper.sweep, clock=config.clock),
            Periodic(
                "lifecycle-sweeper", config.lifecycle_sweep_interval, self.lifecycle_sweeper.sweep, clock=config.clock
            ),
        ]
        for loop in self._loops:
            loop.start()

    def _local_routes(self) -> dict[str, LocalRoute]:
        def health(_: Request) -> Response:
            return _json({"status": "ok", "uptime_seconds": round(time.monotonic() - self._started_at, 1)})

        def openapi(_: Request) -> Response:
            return _json(self.openapi())

        def docs(_: Request) -> Response:
            page = swagger_page("/openapi.json", "/docs", API_TITLE)
            return Response(page, content_type="text/html; charset=utf-8")

        def info(_: Request) -> Response:
            return _json(self.info())

        def mail(_: Request) -> Response:
            return _json({"messages": outbox.sent_mail()})

        def asset(name: str) -> LocalRoute:
            def serve(_: Request) -> Response:
                response = Response(swagger_asset(name), content_type=SWAGGER_ASSETS[name])
                response.cache_control.max_age = 86400
                return response

            return serve

        def console_page(_: Request) -> Response:
            # The console routes in the URL's fragment, but the e-mails link to real paths
            # (domain/emails.py): those paths get its index.html, as the deployment's static host does.
            static_dir = self.config.static_dir
            if static_dir is None or not (static_dir / "index.html").is_file():
                return _json({"message": "Not Found"}, 404)
            page = Response((static_dir / "index.html").read_bytes(), content_type="text/html; charset=utf-8")
            page.cache_control.no_cache = True
            return page

        routes: dict[str, LocalRoute] = {
            "/health": health,
            "/openapi.json": openapi,
            "/docs": docs,
            "/_sandbox/info": info,
            "/_sandbox/outbox": mail,
        }
        routes.update({f"/docs/{name}": asset(name) for name in SWAGGER_ASSETS})
        routes.update(dict.fromkeys(CONSOLE_PAGES, console_page))
        return routes


class EndpointSession(boto3.session.Session):
    """A boto3 session whose clients all talk to one endpoint (moto), with fake credentials.

    botocore takes a default endpoint only from the environment or the config file, and the
    sandbox must not change the environment for its own clients, so the session passes it to each.
    """

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            aws_access_key_id="sandbox",
            aws_secret_access_key="sandbox",  # noqa: S106 - moto accepts any credentials
            region_name=REGION,
            botocore_session=_botocore_session(),
        )
        self.endpoint = endpoint

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        kwargs.setdefault("config", CLIENT_CONFIG)
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("endpoint_url", self.endpoint)
        kwargs.setdefault("config", CLIENT_CONFIG)
        return super().resource(*args, **kwargs)


def _botocore_session() -> botocore.session.Session:
    """A botocore session sharing one model loader per process: loading the service models takes
    most of a client's creation, and every sandbox (one per test) would load them again."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _shared_loader())
    return session


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, indent=2, default=str), status=status, content_type="application/json")
