// Sign in, sign up, e-mail verification and password reset.

import * as api from "../api.js";
import { go, signedIn } from "../app.js";
import { busy, checkbox, field, flash, h, message } from "../dom.js";
import { browserTimeZone, timeZones } from "../time.js";

function providerButtons(extraQuery = () => ({}), canStart = () => true, slot = null) {
  const start = (provider) => () => {
    if (!canStart()) return;
    const query = new URLSearchParams({ callback_url: "/#/accounts", timezone: browserTimeZone(), ...extraQuery() });
    location.assign(api.apiUrl(`/auth/oauth/${provider}/start?${query}`));
  };
  return h(
    "div",
    { class: "actions" },
    h("button", { type: "button", class: "secondary", onclick: start("google") }, "Continue with Google"),
    h("button", { type: "button", class: "secondary", onclick: start("facebook") }, "Continue with Facebook"),
    slot,
  );
}

// Why a Google or Facebook sign-in came back to this page: `?error=<code>`, the codes of api/oauth.py
// (CALLBACK_ERRORS). The URL carries the code only; the words are the console's.
const PROVIDER_DOWN = "Signing in with Google or Facebook is not available right now. Sign in with your e-mail and password, or try again later.";
const SIGN_IN_FAILURES = {
  oauth_denied: "You cancelled signing in at Google or Facebook, so you are not signed in. Choose a way to sign in below.",
  oauth_state_invalid: "This sign-in link has expired or was already used. Please start again.",
  account_not_linked:
    "An account already uses this e-mail address. Sign in with your e-mail and password (or the way you signed in before); " +
    "once your address is confirmed, continuing with Google adds it to that account.",
  consent_required: "There is no Flowctory account for this address yet. Create your account first, to confirm your age and accept the terms.",
  oauth_email_missing: "Google or Facebook did not share your e-mail address. Allow it on their page, then start again.",
  oauth_error: "Google or Facebook could not sign you in. Please start again.",
  upstream_error: "Google or Facebook did not answer. Please try again in a moment, or sign in with your e-mail and password.",
  provider_unavailable: PROVIDER_DOWN,
  unknown_provider: PROVIDER_DOWN,
};

/** The plain-words message for a refused provider sign-in, whatever code arrives. */
export function signInFailure(code) {
  return Object.hasOwn(SIGN_IN_FAILURES, code)
    ? SIGN_IN_FAILURES[code]
    : "Signing in did not work. Please try again, or sign in with your e-mail and password.";
}

/** The outcome of a provider sign-in, read once: the code leaves the address bar (and the history). */
function providerOutcome(params) {
  const code = params.get("error");
  if (code === null) return null;
  window.history.replaceState(null, "", "/#/sign-in");
  // A cancellation is the user's own choice: a status, not an alert.
  const box = message(signInFailure(code), code === "oauth_denied" ? "" : "error");
  box.classList.add("narrow");
  return box;
}

export function signIn(params = new URLSearchParams()) {
  const outcome = providerOutcome(params);
  const email = h("input", { type: "email", name: "email", autocomplete: "username", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const slot = h("div");
  const form = h(
    "form",
    { class: "card narrow", novalidate: false },
    field("E-mail", email),
    field("Password", password),
    slot,
    h("div", { class: "actions" }, submit, h("a", { href: "#/forgot-password" }, "Forgot your password?")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, slot, async () => {
      const answer = await api.post("/auth/login", { email: email.value, password: password.value }, { allow401: true });
      signedIn(answer.user);
      go("accounts");
    });
  });
  return h(
    "div",
    {},
    outcome,
    form,
    h("section", { class: "card narrow", "aria-labelledby": "other-ways" },
      h("h2", { id: "other-ways" }, "Or sign in with"),
      providerButtons(),
      h("p", { class: "hint" }, "First time with Google or Facebook? ", h("a", { href: "#/sign-up" }, "Create your account"), " first, to confirm your age and accept the terms.")),
    h("p", {}, "New to Flowctory? ", h("a", { href: "#/sign-up" }, "Create an account")),
  );
}

function timeZoneSelect(selected) {
  const zones = timeZones();
  if (!zones.includes(selected)) zones.unshift(selected);
  return h("select", { name: "timezone" }, zones.map((zone) => h("option", { value: zone, selected: zone === selected }, zone)));
}

export { timeZoneSelect };

export function signUp() {
  const name = h("input", { type: "text", name: "name", autocomplete: "name", required: true, maxlength: "100" });
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const zone = timeZoneSelect(browserTimeZone());
  const age = checkbox("I am at least 16 years old, or at least 13 if I live outside the European Union.", { name: "age_confirmed", required: true });
  const terms = checkbox("I accept the terms of service and the privacy policy.", { name: "accept_terms", required: true });
  const submit = h("button", { type: "submit" }, "Create account");
  const slot = h("div");
  const providerSlot = h("span", { class: "hint", role: "status" });
  const form = h(
    "form",
    { class: "card narrow" },
    field("Your name", name, "Shown only to you."),
    field("E-mail", email, "We send a link to confirm it."),
    field("Password", password, "At least 8 characters; a long phrase is best."),
    field("Time zone", zone, "Posts are scheduled in this time zone."),
    age.element,
    terms.element,
    slot,
    h("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, slot, async () => {
      const answer = await api.post("/auth/signup", {
        name: name.value, email: email.value, password: password.value, timezone: zone.value,
        age_confirmed: age.input.checked, accept_terms: terms.input.checked,
      });
      signedIn(answer.user);
      flash(`Welcome! We sent a link to ${answer.user.email} to confirm your address.`);
      go("accounts");
    });
  });
  const attested = () => {
    const ok = age.input.checked && terms.input.checked;
    providerSlot.textContent = ok ? "" : "Tick both boxes above first.";
    return ok;
  };
  return h(
    "div",
    {},
    form,
    h("section", { class: "card narrow", "aria-labelledby": "sign-up-with" },
      h("h2", { id: "sign-up-with" }, "Or sign up with"),
      h("p", { class: "hint" }, "Tick the age and terms boxes above, then choose:"),
      providerButtons(() => ({ age_confirmed: "true", accept_terms: "true", timezone: zone.value }), attested, providerSlot)),
    h("p", {}, "Already have an account? ", h("a", { href: "#/sign-in" }, "Sign in")),
  );
}

/** Keeps the mailed token out of the address bar (and so out of the history) once it has been read. */
function forgetToken(route) {
  if (location.hash.includes("token=")) window.history.replaceState(null, "", `/#/${route}`);
}

export async function verifyEmail(params) {
  const token = params.get("token");
  forgetToken("verify-email");
  if (!token) return message("This link is incomplete. Open the link from the e-mail again.", "error");
  try {
    const answer = await api.post("/auth/verify-email", { token }, { allow401: true });
    await refreshSession();
    return h("div", { class: "card narrow" },
      message(`Thank you: ${answer.email} is confirmed.`),
      h("p", {}, h("a", { href: "#/accounts" }, "Continue")));
  } catch (error) {
    return h("div", { class: "card narrow" },
      message(error.message, "error"),
      h("p", {}, "Sign in and ask for a new link from the banner at the top of the page."));
  }
}

async function refreshSession() {
  try {
    const answer = await api.get("/auth/session", { allow401: true });
    signedIn(answer.user);
  } catch {
    /* not signed in: the router sends to sign-in */
  }
}

export function forgotPassword() {
  const email = h("input", { type: "email", name: "email", autocomplete: "email", required: true });
  const submit = h("button", { type: "submit" }, "Send the link");
  const slot = h("div");
  const form = h("form", { class: "card narrow" },
    h("p", {}, "Enter your account's e-mail address; we will send a link to choose a new password."),
    field("E-mail", email), slot, h("div", { class: "actions" }, submit, h("a", { href: "#/sign-in" }, "Back to sign in")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, slot, async () => {
      const answer = await api.post("/auth/password/forgot", { email: email.value }, { allow401: true });
      slot.replaceChildren(message(answer.message));
    });
  });
  return form;
}

export function resetPassword(params) {
  const token = params.get("token");
  forgetToken("reset-password");
  if (!token) return message("This link is incomplete. Open the link from the e-mail again.", "error");
  const password = h("input", { type: "password", name: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const again = h("input", { type: "password", name: "password_again", autocomplete: "new-password", required: true });
  const submit = h("button", { type: "submit" }, "Set the new password");
  const slot = h("div");
  const form = h("form", { class: "card narrow" },
    field("New password", password, "At least 8 characters."), field("New password again", again), slot,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (password.value !== again.value) {
      slot.replaceChildren(message("The two passwords differ.", "error"));
      return;
    }
    busy(submit, slot, async () => {
      const answer = await api.post("/auth/password/reset", { token, password: password.value }, { allow401: true });
      signedIn(null);
      flash(answer.message);
      go("sign-in");
    });
  });
  return form;
}
