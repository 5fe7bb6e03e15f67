"""No advertising use, no sale (promise P13): personal data can leave only for TikTok, Stripe, Google,
Facebook and AWS (hosting, storage, the mail service). Proved on the code itself: only adapters may
open a network connection, and every host the code names, and every endpoint setting's default, is
one of those recipients."""

import ast
import re
from pathlib import Path

from flowctory import settings
from sandbox.template import load_template

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "flowctory" / "flowctory"
CODE = [*PACKAGE.rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
# The recipients the policy names (§5), and the product's own domain (links in e-mails, the console).
ALLOWED_HOSTS = re.compile(
    r"(^|\.)(tiktok\.com|tiktokapis\.com|stripe\.com|google\.com|googleapis\.com|facebook\.com|flowctory\.com)$"
)
NETWORK_MODULES = (
    *("httpx", "requests", "urllib3", "socket", "smtplib", "http.client", "urllib.request", "stripe", "authlib"),
    *("boto3", "botocore", "aiohttp"),
)
URL = re.compile(r"\bhttps?://(?:[^@/\s]+@)?([A-Za-z0-9.-]+)")


def _network_imports(tree: ast.AST) -> set[str]:
    """Network clients a module imports, at its top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {name for name in names for network in NETWORK_MODULES if name == network or name.startswith(network + ".")}


def test_p13_only_adapters_can_open_a_network_connection():
    # Given every module of the package and of the functions
    offenders = {}
    for path in CODE:
        if "adapters" in path.relative_to(ROOT).parts:
            continue
        # When its imports (at the top or inside functions) are read
        network = _network_imports(ast.parse(path.read_text()))
        if network:
            offenders[str(path.relative_to(ROOT))] = sorted(network)

    # Then none outside the adapters imports a network client
    assert offenders == {}


def test_p13_every_host_the_code_names_is_a_recipient_the_policy_lists():
    # Given every string constant of the code (docstrings included)
    hosts: dict[str, set[str]] = {}
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                for host in URL.findall(node.value):
                    hosts.setdefault(host.rstrip("."), set()).add(path.name)

    # Then each host is TikTok's, Stripe's, Google's, Facebook's or Flowctory's own (examples in docstrings
    # of the redirect rules name an attacker's host, which the code refuses)
    strays = {host: files for host, files in hosts.items() if not ALLOWED_HOSTS.search(host)}
    assert set(strays) <= {"evil.com"} and all(files == {"redirects.py"} for files in strays.values())
    assert {"open.tiktokapis.com", "api.stripe.com", "accounts.google.com", "graph.facebook.com"} <= set(hosts)


def test_p13_endpoint_settings_default_to_the_recipients_and_the_template_does_not_redirect_them():
    # Given every setting that names an endpoint, and the production template
    defaults = {}
    for model in vars(settings).values():
        if isinstance(model, type) and issubclass(model, settings.SettingsGroup):
            for name, field in model.model_fields.items():
                if isinstance(field.default, str) and field.default.startswith("https://"):
                    defaults[name] = field.default
    template = load_template()
    environment = {
        name
        for resource in template["Resources"].values()
        for name in ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables", {})
    }
    environment |= set(template["Globals"]["Function"]["Environment"]["Variables"])

    # Then each default is a recipient's host, and production never overrides them
    assert defaults and all(ALLOWED_HOSTS.search(URL.findall(url)[0]) for url in defaults.values())
    assert environment & set(defaults) == set()
