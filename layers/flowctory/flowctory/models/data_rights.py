"""Data rights (privacy policy §7-§8): the export document, restriction, erasure and consents.

The export holds what the policy says we keep, and nothing it does not: no password hash, no
TikTok token (not even sealed), no token or state hash, no video bytes.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, StrictBool

from flowctory.models.accounts import Password
from flowctory.models.base import Model

EXPORT_SCHEMA_VERSION = "1"


class _Request(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- restriction ------------------------------------------------------------------------------


class RestrictionRequest(_Request):
    restricted: StrictBool = Field(
        description="true: restrict the processing of my data (nothing is published, no optional e-mail, data "
        "kept); false: lift the restriction."
    )


class RestrictionView(Model):
    restricted: bool
    restricted_at: datetime | None


# --- erasure ----------------------------------------------------------------------------------


class EraseAccountRequest(_Request):
    current_password: Password | None = Field(
        default=None,
        description="Required for an account with a password. An account without one (Google or Facebook "
        "sign-in) needs a sign-in in the last 10 minutes instead.",
    )


class ErasureScheduledView(Model):
    status: Literal["erasure_scheduled"] = "erasure_scheduled"
    message: str = (
        "Your account is being deleted. You are signed out; a confirmation e-mail will follow once everything "
        "is erased."
    )


# --- consents ---------------------------------------------------------------------------------


class ConsentItem(Model):
    kind: str = Field(description="privacy_policy, age_attestation, or post_declaration:<post id>")
    version: str | None = Field(description="The policy version, or the declaration's text, that was accepted.")
    accepted_at: datetime
    withdrawable: bool


class ConsentList(Model):
    items: list[ConsentItem]


class ConsentWithdrawnView(Model):
    kind: str
    withdrawn: Literal[True] = True
    effect: str


# --- export -----------------------------------------------------------------------------------


class ExportProfile(Model):
    user_id: str
    email: str
    email_verified: bool
    pending_email: str | None
    name: str
    avatar_url: str | None
    timezone: str
    has_password: bool = Field(description="Whether a password is set (the password itself is never stored).")
    sign_in_providers: list[str]
    created_at: datetime
    updated_at: datetime
    age_attested_at: datetime
    terms_accepted_at: datetime
    policy_version: str
    restricted: bool
    restricted_at: datetime | None


class ExportIdentity(Model):
    provider: str
    subject: str = Field(description="The provider's id of the user (Google or Facebook).")


class ExportTikTokAccount(Model):
    open_id: str
    display_name: str
    avatar_url: str
    scopes: list[str]
    status: str
    connected_at: datetime
    reconnect_reason: str | None


class ExportSubscription(Model):
    stripe_customer_id: str | None = Field(description="Our reference of you at Stripe, our payment processor.")
    subscription_id: str | None
    status: str | None
    price_id: str | None
    created: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    trial_end: datetime | None


class ExportInvoices(Model):
    held_by: Literal["Stripe"] = "Stripe"
    references: list[str] = Field(description="Invoice links Stripe sent us (e.g. of a payment to complete).")
    how_to_get_them: str = (
        "Stripe keeps your invoices and payment details; open them from Billing > Manage billing (the Stripe "
        "customer portal). We store no invoice and no card details."
    )


class ExportDocument(Model):
    schema_version: str = EXPORT_SCHEMA_VERSION
    generated_at: datetime
    profile: ExportProfile
    identities: list[ExportIdentity]
    tiktok_accounts: list[ExportTikTokAccount]
    # Each post as GET /posts/{id} shows it (a PostView). Typed loosely here so that the auth function,
    # which serves this document among 20-odd routes, does not load the scheduling models at cold start.
    posts: list[dict[str, Any]] = Field(description="Every post, each as GET /posts/{id} shows it.")
    subscription: ExportSubscription | None
    invoices: ExportInvoices
    consents: list[ConsentItem]
    security_events: list[dict[str, Any]] = Field(
        description="Security events stored about you: none. Sign-in attempts are counted for at most 15 minutes "
        "under a hash of the address; server logs (IP, browser, times, errors) are kept 30 days."
    )
    ccpa: dict[str, Any]
    retention: dict[str, str]
