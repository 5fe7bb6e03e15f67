// History (filters by status and account, live status while posts are processing) and the calendar
// (week and month, in the user's time zone).

import * as api from "../api.js";
import { onLeave, session } from "../app.js";
import { announce, busy, confirmDialog, h, message } from "../dom.js";
import * as time from "../time.js";

const STATUSES = { pending: "Scheduled", processing: "Processing", published: "Published", failed: "Failed", cancelled: "Cancelled" };
const STAGES = {
  starting: "Starting",
  uploading: "Sending the video to TikTok",
  tiktok_processing: "TikTok is processing the video; this can take a few minutes",
  awaiting_moderation: "TikTok is reviewing the video",
};
const POLL_MS = 2000;

async function accountNames() {
  try {
    const { accounts } = await api.get("/tiktok/accounts");
    return new Map(accounts.map((account) => [account.open_id, account.display_name]));
  } catch (error) {
    if (error.status === 401) throw error;
    return new Map();
  }
}

function statusText(post) {
  if (post.status === "pending" && post.stage === "held") {
    return "Held: you restricted the processing of your data (Settings); lifting it publishes this post";
  }
  if (post.status === "processing") {
    const stage = STAGES[post.stage] || "Processing";
    if (post.stage === "uploading" && post.video?.size) {
      return `${stage} (${Math.floor((post.uploaded_bytes / post.video.size) * 100)} %)`;
    }
    return stage;
  }
  return STATUSES[post.status] || post.status;
}

/** A post needs watching while it is processing, or pending and due within two minutes (unless held). */
function live(post) {
  if (post.status === "processing") return true;
  if (post.stage === "held") return false;
  return post.status === "pending" && new Date(post.scheduled_at).getTime() - Date.now() < 120_000;
}

function postItem(post, names, onChange) {
  const zone = session.user.timezone;
  const item = h("li", { "data-post-id": post.id, "data-status": post.status });
  const slot = h("div");
  const actions = h("div", { class: "actions" });
  if (post.tiktok_post_url) {
    actions.append(h("a", { href: post.tiktok_post_url, target: "_blank", rel: "noopener noreferrer" }, "View on TikTok"));
  } else if (post.status === "published") {
    actions.append(h("span", { class: "hint" }, post.privacy_level === "PUBLIC_TO_EVERYONE" ? "TikTok has not given the post's address yet." : "Not public, so it has no public page on TikTok."));
  }
  if (post.status === "pending") {
    // Editing opens the composer on this post, with every Direct Post rule checked again.
    actions.append(h("a", { class: "button secondary", href: `#/compose?edit=${encodeURIComponent(post.id)}` }, "Edit"));
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel post");
    cancel.addEventListener("click", async () => {
      if (!(await confirmDialog("Cancel this post?", "It will not be published. The video is deleted within a day.", "Cancel post", { danger: true }))) return;
      await busy(cancel, slot, async () => onChange(await api.del(`/posts/${encodeURIComponent(post.id)}`)));
    });
    actions.append(cancel);
  }
  if (post.can_retry) {
    const retry = h("button", { type: "button" }, "Retry");
    retry.addEventListener("click", () => busy(retry, slot, async () => onChange(await api.post(`/posts/${encodeURIComponent(post.id)}/retry`))));
    actions.append(retry);
  }
  const when = new Date(post.scheduled_at);
  item.append(...[
    h("div", { class: "meta" },
      h("strong", {}, time.readable(when, zone)),
      h("span", { class: `status ${post.status}`, "data-testid": "post-status" }, statusText(post)),
      h("span", {}, names.get(post.account) || "TikTok account"),
      h("span", { class: "hint" }, ({ PUBLIC_TO_EVERYONE: "Everyone", MUTUAL_FOLLOW_FRIENDS: "Friends", FOLLOWER_OF_CREATOR: "Followers", SELF_ONLY: "Only me" })[post.privacy_level] || post.privacy_level)),
    h("p", {}, post.caption || h("em", {}, "No caption")),
    post.failure ? message(`${post.failure.message}${post.can_retry ? " You can retry." : ""}`, "error") : null,
    actions,
    slot,
  ].filter(Boolean));
  return item;
}

export async function history(params) {
  const names = await accountNames();
  const status = h("select", { name: "status" },
    h("option", { value: "" }, "All"),
    Object.entries(STATUSES).map(([value, label]) => h("option", { value, selected: params.get("status") === value }, label)));
  const account = h("select", { name: "account" },
    h("option", { value: "" }, "All accounts"),
    [...names].map(([value, label]) => h("option", { value, selected: params.get("account") === value }, label)));
  status.id = "history-status";
  account.id = "history-account";
  const list = h("ul", { class: "posts", "aria-label": "Posts" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show older posts");
  const slot = h("div");
  const shown = new Map();
  let cursor = null;

  const replace = (post) => {
    const old = shown.get(post.id);
    const next = postItem(post, names, replace);
    if (old) {
      if (old.post.status !== post.status) announce(`A post is now ${STATUSES[post.status] || post.status}.`);
      old.item.replaceWith(next);
    } else {
      list.append(next);
    }
    shown.set(post.id, { post, item: next });
  };

  async function load(reset) {
    const query = new URLSearchParams({ limit: "20" });
    if (status.value) query.set("status", status.value);
    if (account.value) query.set("account", account.value);
    if (!reset && cursor) query.set("cursor", cursor);
    const page = await api.get(`/posts?${query}`);
    if (reset) {
      list.replaceChildren();
      shown.clear();
    }
    page.items.forEach(replace);
    cursor = page.next_cursor;
    more.hidden = !cursor;
    if (!shown.size) list.replaceChildren(h("li", {}, "No posts match these filters."));
  }

  const filterChanged = () => {
    const query = new URLSearchParams();
    if (status.value) query.set("status", status.value);
    if (account.value) query.set("account", account.value);
    history_replace(`#/history${query.size ? `?${query}` : ""}`);
    busy(status, slot, () => load(true));
  };
  status.addEventListener("change", filterChanged);
  account.addEventListener("change", filterChanged);
  more.addEventListener("click", () => busy(more, slot, () => load(false)));

  // Live status: while a shown post is (about to be) processing, ask for it again every two seconds.
  const timer = window.setInterval(async () => {
    for (const { post } of [...shown.values()].filter((entry) => live(entry.post))) {
      try {
        replace(await api.get(`/posts/${encodeURIComponent(post.id)}`));
      } catch (error) {
        if (error.status === 401) return;
      }
    }
  }, POLL_MS);
  onLeave(() => window.clearInterval(timer));

  await load(true);
  return h("div", {},
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: status.id }, "Status"), status),
      h("div", { class: "field" }, h("label", { for: account.id }, "Account"), account),
      h("a", { class: "button secondary", href: "#/compose" }, "New post")),
    slot, list, more);
}

function history_replace(hash) {
  window.history.replaceState(null, "", hash);
}

export async function calendar(params) {
  const zone = session.user.timezone;
  const names = await accountNames();
  const view = params.get("view") === "month" ? "month" : "week";
  const today = time.dayOf(time.wallClock(new Date(), zone));
  const anchor = params.get("date") ? time.dayOf(params.get("date")) : today;
  let first;
  let days;
  if (view === "week") {
    first = time.startOfWeek(anchor);
    days = 7;
  } else {
    first = time.startOfWeek(time.startOfMonth(anchor));
    days = 42;
  }
  const last = time.addDays(first, days);
  const posts = [];
  let cursor = null;
  for (let page = 0; page < 10; page += 1) {
    const query = new URLSearchParams({ from: `${time.isoDay(first)}T00:00`, to: `${time.isoDay(last)}T00:00`, limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const answer = await api.get(`/posts?${query}`);
    posts.push(...answer.items);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  const byDay = new Map();
  for (const post of posts) {
    const key = time.wallClock(new Date(post.scheduled_at), zone).slice(0, 10);
    if (!byDay.has(key)) byDay.set(key, []);
    byDay.get(key).push(post);
  }
  const step = view === "week" ? 7 : null;
  const shift = (direction) => {
    const target = step ? time.addDays(anchor, direction * step) : new Date(Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth() + direction, 1));
    return `#/calendar?view=${view}&date=${time.isoDay(target)}`;
  };
  const monthName = new Intl.DateTimeFormat(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
  const dayName = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
  const title = view === "week"
    ? `Week of ${dayName.format(first)}`
    : monthName.format(anchor);
  const grid = h("div", { class: `calendar ${view}`, role: "list", "aria-label": title });
  for (const weekday of ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]) grid.append(h("div", { class: "weekday", "aria-hidden": "true" }, weekday));
  for (let index = 0; index < days; index += 1) {
    const day = time.addDays(first, index);
    const key = time.isoDay(day);
    const entries = (byDay.get(key) || []).sort((a, b) => a.scheduled_at.localeCompare(b.scheduled_at));
    const classes = ["day"];
    if (view === "month" && day.getUTCMonth() !== anchor.getUTCMonth()) classes.push("other-month");
    if (key === time.isoDay(today)) classes.push("today");
    grid.append(h("div", { class: classes.join(" "), role: "listitem" },
      h("h3", {}, dayName.format(day)),
      entries.length
        ? h("ul", {}, entries.map((post) => h("li", { class: post.status },
          h("a", { href: `#/history?account=${encodeURIComponent(post.account)}` },
            `${time.timeOnly(new Date(post.scheduled_at), zone)} ${STATUSES[post.status] || post.status}`),
          h("br"), h("span", { class: "hint" }, names.get(post.account) || ""), " ",
          h("span", {}, (post.caption || "").slice(0, 60)))))
        : h("span", { class: "visually-hidden" }, "No posts")));
  }
  return h("div", {},
    h("div", { class: "actions" },
      h("a", { class: `button ${view === "week" ? "" : "secondary"}`, href: `#/calendar?view=week&date=${time.isoDay(anchor)}`, "aria-current": view === "week" ? "true" : null }, "Week"),
      h("a", { class: `button ${view === "month" ? "" : "secondary"}`, href: `#/calendar?view=month&date=${time.isoDay(anchor)}`, "aria-current": view === "month" ? "true" : null }, "Month"),
      h("a", { class: "button secondary", href: shift(-1) }, view === "week" ? "Previous week" : "Previous month"),
      h("a", { class: "button secondary", href: `#/calendar?view=${view}` }, "Today"),
      h("a", { class: "button secondary", href: shift(1) }, view === "week" ? "Next week" : "Next month")),
    h("h2", {}, title),
    h("p", { class: "hint" }, `Times in ${time.zoneLabel(zone)}.`),
    grid);
}
