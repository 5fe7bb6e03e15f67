"""Runs the template's functions in this process, the way Lambda runs them, one invocation at a time.

Lambda gives every function its own process and its own environment. Here every function shares
one process, and what a function reads from its environment is process-wide: `os.environ`, the
settings and adapters that flowctory caches (`load_settings`, `wiring`, the boto3 clients in
`adapters.aws`) and the Powertools logger's service name. Several functions use the same variable
names with different values (POWERTOOLS_SERVICE_NAME, MEDIA_BUCKET...), so two functions cannot
run at the same time in one process. The runtime therefore:

- serialises invocations with one lock (like a reserved concurrency of 1 for the whole stack);
- before an invocation of a function other than the previous one, restores the variables it
  changed, applies that function's template environment plus the sandbox's (AWS endpoint, fake
  credentials, region, Lambda's reserved variables, simulator URLs), and clears the caches that
  were filled from the old environment (`wiring.reset()`, and `adapters.aws.reset()` when an AWS
  variable changed); consecutive calls to the same function keep their caches, as a warm Lambda
  container does;
- puts back every variable it touched when it is closed, so tests that run after it see the
  process as it was.

A consequence to know: a handler must never wait for another invocation (for example by calling
the gateway and waiting for the answer); it would wait for the lock it holds. The simulators
deliver their webhooks from their own threads, asynchronously, as the real services do.
"""

import importlib
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from sandbox.stack import REGION, LocalStack
from sandbox.template import ROOT, function_handler_name, function_module, resources_of_type

Handler = Callable[[Any, Any], Any]

log = logging.getLogger("sandbox.runtime")

# Lambda's defaults for asynchronous invocations (EventBridge Scheduler invokes asynchronously).
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_SECONDS = 21_600

# Variables that would send the handlers' AWS calls somewhere other than the local endpoint.
UNSET_FOR_FUNCTIONS = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")


class UnknownFunctionError(LookupError):
    """No function of the local stack has this id or ARN."""


class RuntimeBusyError(TimeoutError):
    """Another invocation held the runtime for longer than the caller would wait."""


@dataclass(frozen=True)
class FunctionSpec:
    """One function as the runtime runs it: where its handler is and the environment it gets."""

    function_id: str
    name: str
    arn: str
    environment: Mapping[str, str]
    module: str | None = None
    handler_name: str = "lambda_handler"
    handler: Handler | None = None
    timeout_seconds: int = 3
    memory_mb: int = 128
    async_retries: int = DEFAULT_ASYNC_RETRIES
    max_event_age_seconds: int = DEFAULT_MAX_EVENT_AGE_SECONDS
    on_failure_arn: str | None = None
    log_group: str | None = None


@dataclass
class LambdaContext:
    """The context object Lambda passes to a handler (the attributes Powertools reads)."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    aws_request_id: str
    log_group_name: str
    deadline: float
    function_version: str = "$LATEST"
    log_stream_name: str = field(default_factory=lambda: f"sandbox/[$LATEST]{uuid.uuid4().hex}")
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def template_functions(stack: LocalStack) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function of template.yaml, with its resolved environment and settings."""
    template = stack.template
    defaults = template.get("Globals", {}).get("Function", {})
    functions = {}
    for function_id, resource in resources_of_type(template, "AWS::Serverless::Function").items():
        properties = resource["Properties"]
        invoke_config = {**defaults.get("EventInvokeConfig", {}), **properties.get("EventInvokeConfig", {})}
        on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        log_group = properties.get("LoggingConfig", {}).get("LogGroup")
        name = stack.ref(function_id)
        functions[function_id] = FunctionSpec(
            function_id=function_id,
            name=name,
            arn=stack.function_arn(function_id),
            environment=stack.function_environment(function_id),
            module=function_module(template, function_id),
            handler_name=function_handler_name(template, function_id),
            timeout_seconds=int(properties.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(properties.get("MemorySize", defaults.get("MemorySize", 128))),
            async_retries=int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
            max_event_age_seconds=int(invoke_config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS)),
            on_failure_arn=stack.resolver.resolve(on_failure) if on_failure else None,
            log_group=stack.resolver.resolve(log_group) if log_group else f"/aws/lambda/{name}",
        )
    return functions


def add_layers_to_path(template: Mapping[str, Any]) -> None:
    """Make the template's layers importable, as Lambda does by unpacking them under /opt/python."""
    for resource in resources_of_type(template, "AWS::Serverless::LayerVersion").values():
        layer_dir = str(ROOT / resource["Properties"]["ContentUri"])
        if layer_dir not in sys.path:
            sys.path.append(layer_dir)
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))


def sandbox_environment(aws_endpoint: str) -> dict[str, str]:
    """What every function gets on top of its template environment when it runs in the sandbox."""
    return {
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_ACCESS_KEY_ID": "sandbox",
        "AWS_SECRET_ACCESS_KEY": "sandbox",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "1",
    }


class FunctionRuntime:
    """Invokes functions in-process, each in its own environment; see the module docstring."""

    def __init__(self, functions: Mapping[str, FunctionSpec], environment: Mapping[str, str]) -> None:
        self.functions = dict(functions)
        self._environment = dict(environment)
        self._lock = threading.Lock()
        self._current: str | None = None
        self._saved: dict[str, str | None] = {}
        self._handlers: dict[str, Handler] = {}
        self._modules: dict[str, ModuleType] = {}

    def add_environment(self, variables: Mapping[str, str]) -> None:
        """Extra variables for every function (a simulator's URL, say); applied from the next switch."""
        with self._lock:
            self._environment.update(variables)
            self._current = None

    def function_for_arn(self, arn: str) -> FunctionSpec | None:
        """The function an ARN names; qualified ARNs (`:$LATEST`, an alias) name their function too."""
        for spec in self.functions.values():
            if arn == spec.arn or arn.startswith(spec.arn + ":"):
                return spec
        return None

    def invoke(self, function_id: str, event: Any, *, request_id: str | None = None, wait: float = -1) -> Any:
        """Run `function_id`'s handler on `event` and return what it returns (its exceptions propagate).

        Raises:
            UnknownFunctionError: no such function.
            RuntimeBusyError: the runtime stayed busy for `wait` seconds (-1 waits forever).
        """
        spec = self._spec(function_id)
        with self._exclusive(wait):
            self._switch_to(spec)
            handler = self._handler(spec)
            context = LambdaContext(
                function_name=spec.name,
                invoked_function_arn=spec.arn,
                memory_limit_in_mb=spec.memory_mb,
                aws_request_id=request_id or str(uuid.uuid4()),
                log_group_name=spec.log_group or f"/aws/lambda/{spec.name}",
                deadline=time.monotonic() + spec.timeout_seconds,
            )
            return handler(event, context)

    def module(self, function_id: str) -> ModuleType | None:
        """The function's handler module, imported in the function's environment (None if given as a callable)."""
        spec = self._spec(function_id)
        if spec.module is None:
            return None
        with self._exclusive(-1):
            self._switch_to(spec)
            return self._import(spec)

    def preload(self) -> dict[str, str]:
        """Import every handler now, as Lambda's init phase would; returns the errors by function."""
        errors = {}
        for function_id in self.functions:
            try:
                spec = self._spec(function_id)
                with self._exclusive(-1):
                    self._switch_to(spec)
                    self._handler(spec)
            except Exception as error:
                errors[function_id] = f"{type(error).__name__}: {error}"
                log.exception("cannot load the handler of %s", function_id)
        return errors

    def close(self) -> None:
        """Put back every environment variable the runtime changed and forget the caches built from them."""
        with self._lock:
            self._restore()
            self._current = None
            _reset_caches(None, clients=True)

    def _spec(self, function_id: str) -> FunctionSpec:
        try:
            return self.functions[function_id]
        except KeyError:
            raise UnknownFunctionError(function_id) from None

    @contextmanager
    def _exclusive(self, wait: float) -> Iterator[None]:
        if not self._lock.acquire(timeout=wait):
            raise RuntimeBusyError(f"the functions stayed busy for {wait} s")
        try:
            yield
        finally:
            self._lock.release()

    def _switch_to(self, spec: FunctionSpec) -> None:
        if self._current == spec.function_id:
            return
        aws_before = _aws_variables(os.environ)
        self._restore()
        wanted: dict[str, str | None] = dict.fromkeys(UNSET_FOR_FUNCTIONS)
        wanted.update({name: None for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")})
        wanted.update(spec.environment)
        # The sandbox's variables win: they configure the deployment as a deployer would (the
        # simulators' client ids and base URLs over the template's empty parameter defaults).
        wanted.update(self._environment)
        wanted.update(
            AWS_LAMBDA_FUNCTION_NAME=spec.name,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(spec.memory_mb),
            AWS_LAMBDA_LOG_GROUP_NAME=spec.log_group or f"/aws/lambda/{spec.name}",
        )
        for name, value in wanted.items():
            self._saved.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._current = spec.function_id
        _reset_caches(spec.environment.get("POWERTOOLS_SERVICE_NAME"), clients=_aws_variables(os.environ) != aws_before)

    def _restore(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()

    def _handler(self, spec: FunctionSpec) -> Handler:
        if spec.handler is not None:
            return spec.handler
        if spec.function_id not in self._handlers:
            handler = getattr(self._import(spec), spec.handler_name)
            self._handlers[spec.function_id] = handler
        return self._handlers[spec.function_id]

    def _import(self, spec: FunctionSpec) -> ModuleType:
        assert spec.module is not None
        if spec.module not in self._modules:
            self._modules[spec.module] = importlib.import_module(spec.module)
        return self._modules[spec.module]


def _aws_variables(environment: Mapping[str, str]) -> dict[str, str]:
    """The variables boto3 clients are built from (endpoint, credentials, region), not Lambda's own."""
    return {
        name: value
        for name, value in environment.items()
        if name.startswith("AWS_") and not name.startswith("AWS_LAMBDA_")
    }


def _reset_caches(service_name: str | None, *, clients: bool) -> None:
    """Forget what flowctory built from the previous environment.

    Settings and adapters are rebuilt at every switch: functions read different variables. The
    boto3 session and clients are rebuilt only when a variable they are made from changed (the
    first switch, or closing): every function shares the sandbox's endpoint, credentials and
    region, and a new session costs a few hundred milliseconds of model loading per switch.
    """
    if "flowctory" not in sys.modules:
        return  # nothing imported yet, so nothing cached
    from flowctory import wiring
    from flowctory.adapters import aws
    from flowctory.observability import logger

    wiring.reset()
    if clients:
        aws.reset()
    # Powertools reads the service name once, when the shared logger is created; name the function
    # in each log line as Lambda would (None puts back the logger's own name).
    logger.append_keys(service=service_name or logger.service)
