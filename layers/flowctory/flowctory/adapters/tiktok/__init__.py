"""TikTok: OAuth v2, user info, the Content Posting API, chunked uploads and webhook signatures.

Import the submodule you need: `client` (httpx, imported lazily) for calls to TikTok, `oauth` for
PKCE and the authorization URL, `webhooks` for signature checks, `errors` for the typed errors.
Only `client` touches the network, so the webhook receiver never pays for an HTTP library.
"""
