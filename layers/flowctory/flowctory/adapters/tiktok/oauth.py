"""PKCE and the authorization URL of TikTok's Login Kit (v2): pure functions, no network.

TikTok documents PKCE's S256 challenge as the lowercase hex of SHA-256 (not RFC 7636's base64url).
Reports in the wild disagree, so both encodings are available; hex is the default.
"""

import base64
import hashlib
import secrets
import string
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlencode

ChallengeEncoding = Literal["hex", "base64url"]
AUTHORIZE_PATH = "/v2/auth/authorize/"
VERIFIER_ALPHABET = string.ascii_letters + string.digits + "-._~"


def new_code_verifier(length: int = 64) -> str:
    """A fresh PKCE verifier: `length` (43 to 128) characters of the unreserved alphabet."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters")
    return "".join(secrets.choice(VERIFIER_ALPHABET) for _ in range(length))


def code_challenge(verifier: str, encoding: ChallengeEncoding = "hex") -> str:
    """The S256 challenge of `verifier`: hex (TikTok's documented form) or base64url (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii"))
    if encoding == "hex":
        return digest.hexdigest()
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")


def authorize_url(
    auth_base_url: str,
    *,
    client_key: str,
    redirect_uri: str,
    scopes: Iterable[str],
    state: str,
    code_verifier: str | None = None,
    challenge_encoding: ChallengeEncoding = "hex",
) -> str:
    """Where to send the creator's browser; scopes are joined with commas, as TikTok wants."""
    params = {
        "client_key": client_key,
        "scope": ",".join(scopes),
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
    }
    if code_verifier is not None:
        params["code_challenge"] = code_challenge(code_verifier, challenge_encoding)
        params["code_challenge_method"] = "S256"
    return f"{auth_base_url.rstrip('/')}{AUTHORIZE_PATH}?{urlencode(params)}"
