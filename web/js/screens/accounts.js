// Connected TikTok accounts: list, connect another, reconnect, disconnect.

import * as api from "../api.js";
import { session, signedIn } from "../app.js";
import { busy, confirmDialog, h, message } from "../dom.js";
import { readable } from "../time.js";

// The `reason` codes the connect callback puts in the URL (domain/tiktok_connection.py), in plain words.
const CONNECT_FAILURES = {
  tiktok_access_denied: "You cancelled on TikTok, so no account was connected.",
  tiktok_scope_missing: "Flowctory needs permission to publish videos. Connect again and allow video publishing.",
  plan_limit_reached: "Your plan allows no more TikTok accounts. Disconnect one, or upgrade in Settings.",
};

export function connectFailure(reason) {
  return CONNECT_FAILURES[reason] || "TikTok did not connect the account. Please try again.";
}

export function connectUrl() {
  const query = new URLSearchParams({ callback_url: "/#/accounts" });
  return api.apiUrl(`/tiktok/connect?${query}`);
}

/** A letter badge instead of TikTok's avatar picture: the console loads nothing from another host (P10). */
export function monogram(name) {
  return h("span", { class: "monogram", "aria-hidden": "true" }, (name || "?").trim().charAt(0).toUpperCase() || "?");
}

const STATUS_WORDS = { active: "Connected", reconnect_required: "Needs reconnecting" };

export async function render() {
  const { accounts } = await api.get("/tiktok/accounts");
  const slot = h("div");
  const connect = h("a", { class: "button", href: connectUrl() }, accounts.length ? "Connect another TikTok account" : "Connect a TikTok account");
  const list = h("ul", { class: "posts", "aria-label": "Connected TikTok accounts" });
  for (const account of accounts) list.append(accountItem(account, slot));
  return h(
    "div",
    {},
    slot,
    accounts.length
      ? list
      : h("p", {}, "No TikTok account is connected yet. Connect one to schedule posts on it."),
    h("div", { class: "actions" }, connect),
    h("p", { class: "hint" }, "You will sign in on TikTok and allow Flowctory to post for you. We keep only the account's id, name and picture address, and the access it grants, encrypted."),
  );
}

function accountItem(account, slot) {
  const item = h("li", { "data-open-id": account.open_id });
  const disconnect = h("button", { type: "button", class: "secondary" }, "Disconnect");
  disconnect.setAttribute("aria-label", `Disconnect ${account.display_name}`);
  disconnect.addEventListener("click", async () => {
    const sure = await confirmDialog(
      `Disconnect ${account.display_name}?`,
      "Its scheduled posts that have not started are cancelled, and Flowctory gives its access back to TikTok.",
      "Disconnect",
      { danger: true },
    );
    if (!sure) return;
    await busy(disconnect, slot, async () => {
      const answer = await api.del(`/tiktok/accounts/${encodeURIComponent(account.open_id)}`);
      const count = answer.cancelled_posts.length;
      item.remove();
      slot.replaceChildren(message(`${account.display_name} is disconnected${count ? `; ${count} scheduled post(s) were cancelled` : ""}.`));
      try {
        signedIn((await api.get("/auth/session")).user);
      } catch {
        /* the list is right either way */
      }
    });
  });
  const actions = h("div", { class: "actions" });
  if (account.status === "reconnect_required") {
    actions.append(h("a", { class: "button", href: connectUrl() }, "Reconnect"));
  } else {
    actions.append(h("a", { class: "button secondary", href: `#/compose?account=${encodeURIComponent(account.open_id)}` }, "New post"));
  }
  actions.append(disconnect);
  const zone = session.user?.timezone || "UTC";
  item.append(
    h("div", { class: "account" },
      monogram(account.display_name),
      h("div", { class: "who" },
        h("strong", {}, account.display_name), " ",
        h("span", { class: `status ${account.status}` }, STATUS_WORDS[account.status] || account.status),
        h("p", { class: "hint" }, `Connected ${readable(new Date(account.connected_at), zone)}`),
        account.status === "reconnect_required"
          ? h("p", { class: "error" }, "TikTok no longer accepts this connection. Reconnect it to publish its scheduled posts.")
          : null),
      actions),
  );
  return item;
}

