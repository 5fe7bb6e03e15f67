// Settings: profile, password, sessions, data rights (export, restriction, consents, deletion) and billing.

import * as api from "../api.js";
import { session, signedIn, signedOut, signOut } from "../app.js";
import { busy, confirmDialog, errorMessage, field, h, message } from "../dom.js";
import { readable } from "../time.js";
import { timeZoneSelect } from "./auth.js";

const NOT_AVAILABLE = "This is not available yet on this server.";

function section(id, title, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export async function render() {
  const user = (await api.get("/me")) || session.user;
  signedIn(user);
  const parts = [profile(user), password(user), sessions(), await dataRights(user)];
  const billing = await billingSection();
  if (billing) parts.push(billing);
  return h("div", {}, ...parts);
}

function profile(user) {
  const name = h("input", { type: "text", name: "name", value: user.name, autocomplete: "name", maxlength: "100" });
  const email = h("input", { type: "email", name: "email", value: user.email, autocomplete: "email" });
  const zone = timeZoneSelect(user.timezone);
  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password" });
  const currentField = field("Current password (to change the e-mail address)", current);
  currentField.hidden = true;
  email.addEventListener("input", () => (currentField.hidden = !user.has_password || email.value === user.email));
  const submit = h("button", { type: "submit" }, "Save profile");
  const slot = h("div");
  const form = h("form", {}, field("Name", name), field("E-mail", email, user.pending_email ? `Waiting for confirmation of ${user.pending_email}.` : "A new address takes effect once you open the link we send to it."),
    currentField, field("Time zone", zone, "Times in the calendar, history and composer use it."), slot, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, slot, async () => {
      const changes = {};
      if (name.value !== user.name) changes.name = name.value;
      if (zone.value !== user.timezone) changes.timezone = zone.value;
      if (email.value !== user.email) {
        changes.email = email.value;
        if (user.has_password) changes.current_password = current.value;
      }
      if (!Object.keys(changes).length) {
        slot.replaceChildren(message("Nothing to save."));
        return;
      }
      const updated = await api.patch("/me", changes);
      Object.assign(user, updated);
      signedIn(updated);
      current.value = "";
      slot.replaceChildren(message(changes.email ? `Saved. Open the link we sent to ${changes.email} to confirm it.` : "Saved."));
    });
  });
  return section("profile-heading", "Profile", form);
}

function password(user) {
  if (!user.has_password) {
    return section("password-heading", "Password",
      h("p", {}, `You sign in with ${user.sign_in_providers.join(" and ") || "a provider"}. To add a password, use `, h("a", { href: "#/forgot-password" }, "Forgot your password"), "."));
  }
  const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", name: "new_password", autocomplete: "new-password", required: true, minlength: "8" });
  const submit = h("button", { type: "submit" }, "Change password");
  const slot = h("div");
  const form = h("form", {}, field("Current password", current), field("New password", next, "At least 8 characters. Every other session is signed out."), slot, h("div", { class: "actions" }, submit));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(submit, slot, async () => {
      const answer = await api.post("/auth/password/change", { current_password: current.value, new_password: next.value });
      signedIn(answer.user);
      current.value = "";
      next.value = "";
      slot.replaceChildren(message("Password changed. Every other session was signed out, and we e-mailed you about it."));
    });
  });
  return section("password-heading", "Password", form);
}

function sessions() {
  const out = h("button", { type: "button", class: "secondary", onclick: signOut }, "Sign out");
  return section("sessions-heading", "Sessions",
    h("p", {}, "A session ends 30 minutes after your last action, and 12 hours after you signed in at the latest."),
    h("p", { class: "hint" }, "To sign out on every other device at once, change your password: that ends every other session."),
    h("div", { class: "actions" }, out));
}

async function dataRights(user) {
  const exportSlot = h("div");
  const exportButton = h("button", { type: "button", class: "secondary" }, "Download my data");
  exportButton.addEventListener("click", () => busy(exportButton, exportSlot, async () => {
    const data = await api.get("/me/export", { notFound: api.MISSING });
    if (data === api.MISSING) {
      exportSlot.replaceChildren(message(NOT_AVAILABLE, "warn"));
      return;
    }
    const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "flowctory-export.json" });
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
    exportSlot.replaceChildren(message("Your data was downloaded as flowctory-export.json."));
  }));

  // The profile tells the restriction only if the API includes it; otherwise the state shows after a choice.
  const restrictSlot = h("div", { role: "status" },
    typeof user.restricted === "boolean" ? (user.restricted ? "Processing is restricted." : "Processing is not restricted.") : "");
  const restrictButtons = [true, false].map((wanted) => {
    const button = h("button", { type: "button", class: "secondary" }, wanted ? "Restrict processing" : "Lift the restriction");
    button.addEventListener("click", () => busy(button, restrictSlot, async () => {
      const answer = await api.put("/me/restriction", { restricted: wanted }, { notFound: api.MISSING });
      if (answer === api.MISSING) {
        restrictSlot.replaceChildren(message(NOT_AVAILABLE, "warn"));
        return;
      }
      const since = answer.restricted && answer.restricted_at ? ` since ${readable(new Date(answer.restricted_at), session.user?.timezone || "UTC")}` : "";
      restrictSlot.replaceChildren(message(answer.restricted ? `Processing is restricted${since}.` : "Processing is no longer restricted."));
    }));
    return button;
  });

  const consentsBox = h("div");
  await renderConsents(consentsBox);

  const deleteSlot = h("div");
  const deleteButton = h("button", { type: "button", class: "danger" }, "Delete my account");
  deleteButton.addEventListener("click", async () => {
    const confirmation = h("input", { type: "text", name: "confirm", autocomplete: "off", required: true, pattern: "DELETE" });
    const current = h("input", { type: "password", name: "current_password", autocomplete: "current-password", required: true });
    const extra = h("div", {},
      user.has_password ? field("Your password", current) : null,
      field("Type DELETE to confirm", confirmation));
    const sure = await confirmDialog("Delete your account?",
      "Your account, connected TikTok accounts, scheduled posts, videos and history are erased. Scheduled posts will not publish. This cannot be undone.",
      "Delete my account", { danger: true, extra });
    if (!sure) return;
    if (confirmation.value !== "DELETE") {
      deleteSlot.replaceChildren(message("Type DELETE to confirm; nothing was deleted.", "error"));
      return;
    }
    await busy(deleteButton, deleteSlot, async () => {
      const body = user.has_password ? { current_password: current.value } : undefined;
      const answer = await api.del("/me", body, { notFound: api.MISSING, allow401: true });
      if (answer === api.MISSING) {
        deleteSlot.replaceChildren(message(NOT_AVAILABLE, "warn"));
        return;
      }
      signedOut(answer?.message || "Your account is being deleted. You are signed out; a confirmation e-mail will follow.");
    });
  });

  return section("data-heading", "Your data",
    h("h3", {}, "Export"), h("p", {}, "A copy of everything we hold about you, as a JSON file."), h("div", { class: "actions" }, exportButton), exportSlot,
    h("h3", {}, "Restriction"),
    h("p", {}, "While processing is restricted we keep your data but do not use it: nothing is published and no optional e-mail is sent."),
    h("div", { class: "actions" }, restrictButtons), restrictSlot,
    h("h3", {}, "Consents"), consentsBox,
    h("h3", {}, "Delete your account"), h("div", { class: "actions" }, deleteButton), deleteSlot);
}

async function renderConsents(box) {
  let answer;
  try {
    answer = await api.get("/me/consents", { notFound: api.MISSING });
  } catch (error) {
    if (error.status === 401) throw error;
    box.replaceChildren(errorMessage(error));
    return;
  }
  if (answer === api.MISSING) {
    box.replaceChildren(message(NOT_AVAILABLE, "warn"));
    return;
  }
  const zone = session.user?.timezone || "UTC";
  const rows = answer.items.map((consent) => {
    const slot = h("div");
    const cell = h("td", {}, slot);
    if (consent.withdrawable) {
      const withdraw = h("button", { type: "button", class: "secondary" }, "Withdraw");
      withdraw.setAttribute("aria-label", `Withdraw ${consent.kind.replaceAll("_", " ")}`);
      withdraw.addEventListener("click", async () => {
        if (!(await confirmDialog("Withdraw this consent?", `Withdraw "${consent.kind.replaceAll("_", " ")}"?`, "Withdraw"))) return;
        await busy(withdraw, slot, async () => {
          const done = await api.del(`/me/consents/${encodeURIComponent(consent.kind)}`, undefined, { notFound: api.MISSING });
          if (done === api.MISSING) {
            slot.replaceChildren(message(NOT_AVAILABLE, "warn"));
            return;
          }
          await renderConsents(box);
          box.prepend(message(done.effect || "Consent withdrawn."));
        });
      });
      cell.prepend(withdraw);
    } else {
      cell.prepend(h("span", { class: "hint" }, "Needed to use Flowctory"));
    }
    return h("tr", {}, h("td", {}, consent.kind.replaceAll("_", " ")), h("td", {}, consent.version || ""),
      h("td", {}, consent.accepted_at ? readable(new Date(consent.accepted_at), zone) : ""), cell);
  });
  box.replaceChildren(rows.length
    ? h("table", {}, h("thead", {}, h("tr", {}, ["Consent", "Version", "Given", ""].map((text) => h("th", { scope: "col" }, text)))), h("tbody", {}, rows))
    : h("p", {}, "No consents recorded."));
}

async function billingSection() {
  let subscription;
  let plans;
  try {
    [subscription, plans] = await Promise.all([api.get("/billing/subscription"), api.get("/billing/plans")]);
  } catch (error) {
    if (error.status === 401) throw error;
    return null; // billing unreachable: the section is simply not shown
  }
  if (!subscription.billing_enabled) return null;
  const slot = h("div");
  const price = (plan) => (plan.monthly_price_cents ? `${(plan.monthly_price_cents / 100).toFixed(2)} ${plan.currency.toUpperCase()} a month` : "Free");
  const usage = subscription.usage;
  const meter = (label, used, allowed) => h("div", { class: "field" },
    h("span", {}, `${label}: ${used} of ${allowed}`),
    h("progress", { max: Math.max(allowed, 1), value: Math.min(used, allowed), "aria-label": label }));
  const portal = h("button", { type: "button", class: "secondary" }, "Manage billing");
  portal.addEventListener("click", () => busy(portal, slot, async () => location.assign((await api.post("/billing/portal")).url)));
  const offers = plans.plans.filter((plan) => plan.purchasable && plan.id !== subscription.plan.id).map((plan) => {
    const buy = h("button", { type: "button" }, `Upgrade to ${plan.name}`);
    buy.addEventListener("click", () => busy(buy, slot, async () => location.assign((await api.post("/billing/checkout", { plan: plan.id })).url)));
    return h("li", {}, `${plan.name}: ${price(plan)}, ${plan.limits.tiktok_accounts} TikTok accounts, ${plan.limits.posts_per_month} posts a month `, buy);
  });
  const zone = session.user?.timezone || "UTC";
  return section("billing-heading", "Plan and billing",
    subscription.notice ? message([subscription.notice.message, " ", subscription.notice.pay_url ? h("a", { href: subscription.notice.pay_url }, "Pay now") : null], "warn") : null,
    h("p", {}, h("strong", {}, subscription.plan.name), ` (${price(subscription.plan)})`,
      subscription.current_period_end ? `, ${subscription.cancel_at_period_end ? "ends" : "renews"} ${readable(new Date(subscription.current_period_end), zone)}` : ""),
    meter("TikTok accounts", usage.tiktok_accounts.used, usage.tiktok_accounts.allowed),
    meter(`Posts in ${usage.month}`, usage.posts_this_month.used, usage.posts_this_month.allowed),
    subscription.over_limit.map((item) => message(item.message, "warn")),
    offers.length ? h("ul", {}, offers) : null,
    h("div", { class: "actions" }, subscription.status !== "none" ? portal : null),
    slot);
}
