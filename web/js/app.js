// The console's shell: the session, the router (#/screen?query), the navigation and the banners.

import * as api from "./api.js";
import { clearFlash, errorMessage, flash, h, message, showFlash } from "./dom.js";
import * as auth from "./screens/auth.js";
import * as accounts from "./screens/accounts.js";
import * as compose from "./screens/compose.js";
import * as posts from "./screens/posts.js";
import * as settings from "./screens/settings.js";

// Pages the service e-mails link to (domain/emails.py): the sandbox and the deployment serve index.html there.
const MAILED_PAGES = {
  "/verify-email": "verify-email",
  "/reset-password": "reset-password",
  "/sign-in": "sign-in",
  "/forgot-password": "forgot-password",
  "/accounts": "accounts",
};

const SCREENS = {
  "sign-in": { render: auth.signIn, title: "Sign in", public: true, guestOnly: true },
  "sign-up": { render: auth.signUp, title: "Create your account", public: true, guestOnly: true },
  "verify-email": { render: auth.verifyEmail, title: "Confirm your e-mail", public: true },
  "forgot-password": { render: auth.forgotPassword, title: "Forgot your password", public: true },
  "reset-password": { render: auth.resetPassword, title: "Choose a new password", public: true },
  accounts: { render: accounts.render, title: "TikTok accounts" },
  compose: { render: compose.render, title: "New post" },
  calendar: { render: posts.calendar, title: "Calendar" },
  history: { render: posts.history, title: "History" },
  settings: { render: settings.render, title: "Settings" },
};

export const session = { user: null };
let cleanups = [];
let renderToken = 0;

/** Register something to stop when the screen changes (timers, uploads). */
export function onLeave(cleanup) {
  cleanups.push(cleanup);
}

export function go(route) {
  const target = route.startsWith("#") ? route : `#/${route}`;
  if (location.hash === target) render();
  else location.hash = target;
}

export function signedIn(user) {
  session.user = user;
  updateChrome();
}

export function signedOut(text, kind = "") {
  session.user = null;
  api.forgetCsrf();
  if (text) flash(text, kind);
  updateChrome();
  go("sign-in");
}

export function currentRoute() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [name, query = ""] = raw.split("?");
  return { name: name || (session.user ? "accounts" : "sign-in"), params: new URLSearchParams(query) };
}

async function render() {
  const token = ++renderToken;
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      /* a finished timer */
    }
  }
  const route = currentRoute();
  let screen = SCREENS[route.name];
  const main = document.getElementById("main");
  if (!screen) {
    main.replaceChildren(h("h1", { tabindex: "-1" }, "Page not found"), h("p", {}, h("a", { href: "#/accounts" }, "Go to your accounts")));
    return;
  }
  if (!screen.public && !session.user) {
    flash("Please sign in to continue.");
    return go("sign-in");
  }
  if (screen.guestOnly && session.user) return go("accounts");
  document.title = `${screen.title} · Flowctory`;
  updateChrome(route.name);
  showFlash();
  const heading = h("h1", { tabindex: "-1" }, screen.title);
  let content;
  try {
    content = await screen.render(route.params, { heading });
  } catch (error) {
    if (error instanceof api.ApiError && error.status === 401) return; // signedOut() already navigated
    content = errorMessage(error);
  }
  if (token !== renderToken) return; // a newer navigation won
  main.replaceChildren(heading, content);
  heading.focus();
}

function updateChrome(routeName = currentRoute().name) {
  const nav = document.getElementById("nav");
  nav.hidden = !session.user;
  for (const link of nav.querySelectorAll("a[data-route]")) {
    if (link.dataset.route === routeName) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const banners = document.getElementById("banners");
  banners.replaceChildren();
  const user = session.user;
  if (!user) return;
  if (!user.email_verified) {
    const resend = h("button", { type: "button", class: "link-button" }, "Send the link again");
    const box = message([`Confirm your e-mail address: open the link we sent to ${user.email}. `, resend], "warn");
    resend.addEventListener("click", async () => {
      resend.disabled = true;
      try {
        const answer = await api.post("/auth/verify-email/resend");
        box.replaceChildren(answer.message);
      } catch (error) {
        box.replaceChildren(error.message);
      }
    });
    banners.append(box);
  }
  if (user.policy_update_required) {
    const accept = h("button", { type: "button", class: "link-button" }, "Accept the updated privacy policy");
    accept.addEventListener("click", async () => {
      accept.disabled = true;
      try {
        signedIn(await api.patch("/me", { accept_policy: true }));
      } catch (error) {
        banners.append(errorMessage(error));
      }
    });
    banners.append(message(["Our privacy policy has changed. ", accept], "warn"));
  }
}

async function start() {
  // Entry points from e-mails are real paths: carry their query into the hash route, and drop the token
  // from the address bar.
  const mailed = MAILED_PAGES[location.pathname];
  const search = new URLSearchParams(location.search);
  if (search.get("tiktok_connect")) {
    const connected = search.get("tiktok_connect") === "connected";
    flash(
      connected ? "Your TikTok account is connected." : accounts.connectFailure(search.get("reason")),
      connected ? "" : "error",
    );
  }
  if (mailed) history.replaceState(null, "", `/#/${mailed}${location.search}`);
  else if (location.search) history.replaceState(null, "", `/${location.hash}`);

  api.onSignedOut((text) => signedOut(text || "Your session has ended. Please sign in again."));
  try {
    const answer = await api.get("/auth/session", { allow401: true });
    session.user = answer.user;
  } catch (error) {
    session.user = null;
    if (error.status !== 401) flash(error.message, "error");
  }
  document.getElementById("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => {
    clearFlash();
    render();
  });
  await render();
}

export async function signOut() {
  try {
    await api.post("/auth/logout");
  } catch {
    /* signed out on this side whatever the answer */
  }
  signedOut("You are signed out.");
}

start();
