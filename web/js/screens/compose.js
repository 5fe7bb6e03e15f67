// The composer, following TikTok's Direct Post rules (reference: TikTok's content-sharing guidelines):
// the creator's nickname from fresh creator info, a preview, an editable caption with a UTF-16 counter,
// privacy chosen by hand among the creator's options (no default), interactions off by default and disabled
// where the creator disabled them, the commercial-content disclosure with its labels, "Only me" closed to
// branded content, the AI-generated label, the cover frame, the declaration before the button, the
// maximum duration checked before upload, and a time in the user's zone within the retention window.
// `#/compose?edit=<post id>` edits a pending post with the same rules: its stored choices pre-filled, its
// account and video fixed, only what changed sent to `PATCH /posts/{id}`.

import * as api from "../api.js";
import { go, onLeave, session } from "../app.js";
import { announce, checkbox, errorMessage, field, flash, formatBytes, h, message, uid } from "../dom.js";
import * as rules from "../rules.js";
import { offsetLabel, readable, wallClock } from "../time.js";
import { connectUrl, monogram } from "./accounts.js";

export async function render(params, { heading } = {}) {
  const editId = params.get("edit");
  const [{ accounts }, editing] = await Promise.all([
    api.get("/tiktok/accounts"),
    editId ? api.get(`/posts/${encodeURIComponent(editId)}`) : null,
  ]);
  if (editing) {
    if (heading) heading.textContent = "Edit scheduled post";
    document.title = "Edit scheduled post · Flowctory";
    const back = h("a", { class: "button secondary", href: "#/history" }, "Back to the history");
    if (editing.status !== "pending") {
      return h("div", {}, message("This post can no longer be changed: only a post that is still scheduled can be.", "error"), back);
    }
    const account = accounts.find((item) => item.open_id === editing.account);
    if (!account || account.status !== "active") {
      return h("div", {},
        message("TikTok needs you to reconnect this post's account before it can be changed.", "error"),
        h("a", { class: "button", href: connectUrl() }, "Reconnect on TikTok"), " ", back);
    }
  }
  const active = accounts.filter((account) => account.status === "active" && (!editing || account.open_id === editing.account));
  if (!active.length) {
    return h("div", {},
      h("p", {}, accounts.length ? "Your TikTok accounts need reconnecting before you can post." : "Connect a TikTok account first."),
      h("a", { class: "button", href: connectUrl() }, accounts.length ? "Reconnect on TikTok" : "Connect a TikTok account"));
  }
  const zone = session.user.timezone;
  const state = {
    creator: null, file: null, uploadId: null, uploading: false, uploaded: false, uploadedAt: null, duration: null,
    videoProblem: null, caption: "", privacy: null, allow_comment: false, allow_duet: false, allow_stitch: false,
    disclosure: { enabled: false, your_brand: false, branded_content: false }, is_aigc: false, cover: null,
    when: "now", at: "", timeProblem: null,
  };
  let storedAt = null; // the edited post's time, as the picker shows it
  if (editing) {
    storedAt = wallClock(new Date(editing.scheduled_at), zone);
    Object.assign(state, {
      uploaded: true, uploadedAt: new Date(editing.video.uploaded_at), duration: editing.video.duration_seconds,
      caption: editing.caption, allow_comment: editing.allow_comment, allow_duet: editing.allow_duet,
      allow_stitch: editing.allow_stitch, disclosure: { ...editing.disclosure }, is_aigc: editing.is_aigc,
      cover: editing.cover_timestamp_ms, when: "later", at: storedAt,
    });
  }
  let upload = null;
  onLeave(() => upload?.abort());

  // --- account and creator info ---
  const chosen = active.find((account) => account.open_id === params.get("account")) || active[0];
  const accountSelect = h("select", { name: "account" },
    active.map((account) => h("option", { value: account.open_id, selected: account === chosen }, account.display_name)));
  const creatorBox = h("div", { class: "account", "aria-live": "polite" });
  const creatorProblem = h("div");
  const privacyNote = h("div", { "aria-live": "polite" });

  // --- video ---
  const fileInput = h("input", { type: "file", name: "video", accept: "video/mp4,video/quicktime,video/webm,.mp4,.mov,.webm" });
  const preview = h("video", { class: "preview", controls: true, muted: true, playsinline: true, preload: "metadata", hidden: true, "aria-label": "Preview of your video" });
  const videoFacts = h("p", { class: "hint", "aria-live": "polite" });
  const videoError = h("div");
  const progress = h("progress", { id: uid("upload"), max: 1, value: 0 });
  const progressText = h("span", { class: "counter" }, "");
  const cancelUpload = h("button", { type: "button", class: "secondary", hidden: true }, "Cancel upload");
  const progressBox = h("div", { class: "field", hidden: true },
    h("label", { for: progress.id }, "Upload"), progress, h("div", { class: "actions" }, progressText, cancelUpload));
  const cover = h("input", { type: "range", name: "cover", min: 0, max: 0, step: 100, value: 0, disabled: true });
  const coverLabel = h("span");
  cover.id = uid("cover");
  if (editing) {
    accountSelect.disabled = true;
    cover.max = Math.floor(state.duration * 1000);
    cover.value = state.cover ?? 0;
    cover.disabled = false;
    coverLabel.textContent = state.cover === null ? "(none chosen: TikTok picks one)" : `at ${(state.cover / 1000).toFixed(1)} s`;
  }

  // --- details ---
  const caption = h("textarea", { name: "caption", rows: 4 });
  const counter = h("span", { class: "counter", id: uid("counter") });
  const privacyBox = h("fieldset", {}, h("legend", {}, "Who can see this video"));
  const interactions = {
    allow_comment: checkbox("Allow comments", { name: "allow_comment" }),
    allow_duet: checkbox("Allow Duet", { name: "allow_duet" }),
    allow_stitch: checkbox("Allow Stitch", { name: "allow_stitch" }),
  };
  const disclose = checkbox("Disclose video content", { name: "disclosure", role: "switch", title: rules.DISCLOSURE_HINT }, rules.DISCLOSURE_HINT);
  const yourBrand = checkbox("Your brand", { name: "your_brand" }, "You are promoting yourself or your own business. This video will be classified as Brand Organic.");
  const branded = checkbox("Branded content", { name: "branded_content" }, "You are promoting another brand or a third party. This video will be classified as Branded Content.");
  const brandedNote = h("p", { class: "disabled-note", hidden: true }, rules.BRANDED_NOT_PRIVATE);
  const disclosureLabel = h("div", { "aria-live": "polite" });
  const disclosureOptions = h("div", { hidden: true }, yourBrand.element, branded.element, brandedNote, disclosureLabel);
  const aigc = checkbox("AI-generated content", { name: "is_aigc" }, "Turn this on if the video was made or significantly edited with AI. TikTok labels it as AI-generated.");

  const nowRadio = h("input", { type: "radio", name: "when", value: "now", checked: state.when === "now", id: uid("when") });
  const laterRadio = h("input", { type: "radio", name: "when", value: "later", checked: state.when === "later", id: uid("when") });
  const at = h("input", { type: "datetime-local", name: "scheduled_at", step: 60, disabled: state.when !== "later", value: state.at });
  const atHint = h("p", { class: "hint", id: uid("at-hint") });
  at.id = uid("at");
  at.setAttribute("aria-describedby", atHint.id);

  const declaration = h("p", { class: "declaration", id: uid("declaration") });
  const submit = h("button", { type: "submit" }, "Publish now");
  submit.setAttribute("aria-describedby", declaration.id);
  const blockerList = h("ul", { class: "problems" });
  const blockerBox = h("div", { "aria-live": "polite" }, h("p", { class: "hint" }, "Before you can post:"), blockerList);
  const resultSlot = h("div");
  if (editing) {
    caption.value = state.caption;
    for (const [name, box] of Object.entries(interactions)) box.input.checked = state[name];
    disclose.input.checked = state.disclosure.enabled;
    yourBrand.input.checked = state.disclosure.your_brand;
    branded.input.checked = state.disclosure.branded_content;
    aigc.input.checked = state.is_aigc;
  }
  disclose.input.setAttribute("aria-checked", String(disclose.input.checked));

  // The API's refusals (422), each next to its field; the fields it names are the request's.
  const fieldSlots = {
    account: h("div"), caption: h("div"), privacy_level: h("div"), allow_comment: h("div"), allow_duet: h("div"),
    allow_stitch: h("div"), disclosure: h("div"), is_aigc: h("div"), cover_timestamp_ms: h("div"),
    scheduled_at: h("div"), video: videoError,
  };
  fieldSlots.timezone = fieldSlots.scheduled_at;
  fieldSlots.consent = fieldSlots.declaration = fieldSlots.disclosure;
  for (const [name, box] of Object.entries(interactions)) box.element.append(fieldSlots[name]);

  function showRefusal(error) {
    for (const slot of new Set(Object.values(fieldSlots))) slot.querySelectorAll(".field-error").forEach((node) => node.remove());
    const elsewhere = [];
    for (const item of error.fields || []) {
      const slot = fieldSlots[item.field] || fieldSlots[item.field.split(".")[0]];
      if (slot) slot.append(h("p", { class: "field-error", "data-field": item.field }, item.problem));
      else elsewhere.push(item);
    }
    resultSlot.replaceChildren(errorMessage({ message: error.message, fields: elsewhere }));
  }

  function renderPrivacy() {
    privacyBox.replaceChildren(h("legend", {}, "Who can see this video"));
    const options = state.creator?.privacy_level_options || [];
    if (!options.length) privacyBox.append(h("p", { class: "hint" }, "Choose an account to see its options."));
    for (const option of options) {
      const input = h("input", { type: "radio", name: "privacy_level", value: option, id: uid("privacy"), checked: state.privacy === option });
      input.addEventListener("change", () => {
        state.privacy = option;
        update();
      });
      const note = option === rules.SELF_ONLY ? h("span", { class: "disabled-note", hidden: true }, ` (${rules.BRANDED_NOT_PRIVATE})`) : null;
      privacyBox.append(h("div", { class: "check" }, h("label", { for: input.id }, input, h("span", {}, rules.PRIVACY_LABELS[option] || option, note))));
    }
    privacyBox.append(h("p", { class: "hint" }, editing ? "The post's audience stays chosen while this account still offers it; otherwise pick one." : "No option is chosen for you: pick one."));
  }

  async function loadCreator() {
    state.creator = null;
    state.privacy = null;
    creatorBox.replaceChildren(h("span", {}, "Asking TikTok about this account…"));
    creatorProblem.replaceChildren();
    renderPrivacy();
    update();
    try {
      const info = await api.get(`/tiktok/accounts/${encodeURIComponent(accountSelect.value)}/creator-info`);
      state.creator = info;
      if (editing) {
        // The stored audience stays only while the creator still offers it; otherwise they choose again.
        const offered = (info.privacy_level_options || []).includes(editing.privacy_level);
        state.privacy = offered ? editing.privacy_level : null;
        privacyNote.replaceChildren(offered ? "" : message(
          `This account no longer offers the audience this post had (${rules.PRIVACY_LABELS[editing.privacy_level] || editing.privacy_level}): choose who can see it.`, "warn"));
      }
      const name = info.nickname || accountSelect.selectedOptions[0].textContent;
      creatorBox.replaceChildren(monogram(name),
        h("div", {}, h("span", { class: "hint" }, "Posting to "), h("strong", { "data-testid": "creator-nickname" }, name),
          info.username ? h("span", { class: "hint" }, ` @${info.username}`) : null));
      if (!info.can_post) {
        // The reason is TikTok's answer in plain words (e.g. too many posts today); then: try later (audit 1b).
        creatorProblem.replaceChildren(message(
          `TikTok does not let this account post right now. ${info.reason ? `${info.reason} ` : ""}Please try again later.`, "error"));
      }
    } catch (error) {
      creatorBox.replaceChildren();
      creatorProblem.replaceChildren(errorMessage(error));
    }
    for (const [name, box] of Object.entries(interactions)) {
      const disabledByCreator = Boolean(state.creator?.[name.replace("allow_", "") + "_disabled"]);
      box.input.disabled = disabledByCreator || !state.creator;
      if (disabledByCreator) {
        box.input.checked = false;
        state[name] = false;
      }
      box.input.title = disabledByCreator ? "Turned off in this account's TikTok settings" : "";
      box.element.querySelector(".disabled-note")?.remove();
      if (disabledByCreator) box.element.querySelector("label > span").append(h("span", { class: "disabled-note" }, " (turned off in this account's TikTok settings)"));
    }
    renderPrivacy();
    checkVideo();
    update();
  }

  function checkVideo() {
    if (editing) {
      // The stored video against this creator's current maximum (the API checks it again).
      const max = state.creator?.max_video_post_duration_sec;
      state.videoProblem = max && state.duration > max
        ? `This account can post videos of up to ${max} seconds; this one lasts ${Math.round(state.duration)}.` : null;
      videoError.replaceChildren(state.videoProblem ? message(state.videoProblem, "error") : "");
      return;
    }
    if (!state.file) return;
    state.videoProblem = rules.videoProblem(state.file, state.duration, state.creator?.max_video_post_duration_sec);
    videoError.replaceChildren(state.videoProblem ? message(state.videoProblem, "error") : "");
  }

  function timeWindow() {
    const from = new Date(Date.now() + 60_000);
    const base = state.uploadedAt || new Date();
    const to = new Date(base.getTime() + rules.RETENTION_HOURS * 3_600_000 - rules.PUBLISH_MARGIN_MINUTES * 60_000);
    return { from, to, min: wallClock(from, zone), max: wallClock(to, zone) };
  }

  function update() {
    const length = rules.utf16Length(state.caption);
    counter.textContent = `${length} / ${rules.CAPTION_MAX_UTF16}`;
    counter.classList.toggle("over", length > rules.CAPTION_MAX_UTF16);

    const d = state.disclosure;
    disclosureOptions.hidden = !d.enabled;
    const brandedBlocksPrivate = d.enabled && d.branded_content;
    const selfOnly = privacyBox.querySelector(`input[value="${rules.SELF_ONLY}"]`);
    if (selfOnly) {
      selfOnly.disabled = brandedBlocksPrivate;
      selfOnly.title = brandedBlocksPrivate ? rules.BRANDED_NOT_PRIVATE : "";
      selfOnly.closest("label").title = selfOnly.title;
      selfOnly.closest("label").querySelector(".disabled-note").hidden = !brandedBlocksPrivate;
    }
    branded.input.disabled = state.privacy === rules.SELF_ONLY;
    branded.input.title = branded.input.disabled ? rules.BRANDED_NOT_PRIVATE : "";
    brandedNote.hidden = !branded.input.disabled;
    const label = rules.disclosureLabel(d);
    disclosureLabel.replaceChildren(
      label ? message(label) : d.enabled ? message(rules.DISCLOSURE_HINT, "warn") : "",
    );
    declaration.textContent = rules.declarationFor(d);

    const window_ = timeWindow();
    at.min = window_.min;
    at.max = window_.max;
    at.disabled = state.when !== "later";
    atHint.textContent = `Time zone: ${zone} (${offsetLabel(zone)}). Choose a time before ${readable(window_.to, zone)}: we delete videos ${rules.RETENTION_HOURS} hours after upload.`;
    state.timeProblem = null;
    if (state.when === "later" && state.at && !(editing && state.at === storedAt)) {
      if (state.at < window_.min) state.timeProblem = "Choose a time at least a minute from now.";
      else if (state.at > window_.max) state.timeProblem = `Choose a time before ${readable(window_.to, zone)}, or upload the video again closer to the time.`;
    }
    submit.textContent = editing ? "Save changes" : state.when === "later" ? "Schedule post" : "Publish now";

    const problems = rules.blockers(state, state.creator);
    blockerList.replaceChildren(...problems.map((problem) => h("li", {}, problem)));
    blockerBox.hidden = problems.length === 0;
    submit.disabled = problems.length > 0;
  }

  // --- events ---
  accountSelect.addEventListener("change", loadCreator);
  caption.addEventListener("input", () => {
    state.caption = caption.value;
    update();
  });
  for (const [name, box] of Object.entries(interactions)) {
    box.input.addEventListener("change", () => {
      state[name] = box.input.checked;
      update();
    });
  }
  disclose.input.addEventListener("change", () => {
    state.disclosure.enabled = disclose.input.checked;
    disclose.input.setAttribute("aria-checked", String(disclose.input.checked));
    update();
  });
  yourBrand.input.addEventListener("change", () => {
    state.disclosure.your_brand = yourBrand.input.checked;
    update();
  });
  branded.input.addEventListener("change", () => {
    state.disclosure.branded_content = branded.input.checked;
    update();
  });
  aigc.input.addEventListener("change", () => {
    state.is_aigc = aigc.input.checked;
  });
  for (const radio of [nowRadio, laterRadio]) {
    radio.addEventListener("change", () => {
      state.when = radio.value;
      if (state.when === "later" && !at.value) {
        at.value = wallClock(new Date(Date.now() + 3_600_000), zone);
        state.at = at.value;
      }
      update();
    });
  }
  at.addEventListener("input", () => {
    state.at = at.value;
    update();
  });
  cover.addEventListener("input", () => {
    state.cover = Number(cover.value);
    coverLabel.textContent = `at ${(state.cover / 1000).toFixed(1)} s`;
    if (preview.src) preview.currentTime = state.cover / 1000;
  });
  cancelUpload.addEventListener("click", () => upload?.abort());

  fileInput.addEventListener("change", async () => {
    upload?.abort();
    const file = fileInput.files[0];
    Object.assign(state, { file: file || null, uploadId: null, uploaded: false, uploading: false, uploadedAt: null, duration: null, videoProblem: null, cover: null });
    videoError.replaceChildren();
    progressBox.hidden = true;
    cover.disabled = true;
    update();
    if (!file) return;
    if (preview.src) URL.revokeObjectURL(preview.src);
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
    state.duration = await readDuration(preview);
    if (state.duration !== null) {
      cover.max = Math.floor(state.duration * 1000);
      cover.value = 0;
      cover.disabled = false;
      state.cover = 0;
      coverLabel.textContent = "at 0.0 s";
      videoFacts.textContent = `${file.name}: ${formatBytes(file.size)}, ${state.duration.toFixed(1)} s, ${preview.videoWidth}×${preview.videoHeight}`;
    } else {
      videoFacts.textContent = `${file.name}: ${formatBytes(file.size)}. This browser cannot preview it; its length is checked after upload.`;
    }
    checkVideo();
    update();
    if (state.videoProblem) return; // checked before anything is uploaded
    await startUpload(file);
  });

  async function startUpload(file) {
    state.uploading = true;
    progressBox.hidden = false;
    cancelUpload.hidden = false;
    progress.max = file.size;
    progress.value = 0;
    progressText.textContent = "Starting the upload…";
    update();
    try {
      const ticket = await api.post("/uploads", { filename: file.name, content_type: rules.contentTypeOf(file), size: file.size });
      upload = api.uploadToBucket(ticket, file, (loaded, total) => {
        progress.max = total;
        progress.value = loaded;
        progressText.textContent = `${formatBytes(loaded)} of ${formatBytes(total)} sent (${Math.floor((loaded / total) * 100)} %)`;
      });
      await upload.promise;
      progress.value = progress.max;
      progressText.textContent = `${formatBytes(file.size)} uploaded (100 %)`;
      Object.assign(state, { uploadId: ticket.upload_id, uploaded: true, uploadedAt: new Date() });
      announce("Upload complete.");
    } catch (error) {
      progressText.textContent = "";
      videoError.replaceChildren(errorMessage(error));
      progressBox.hidden = true;
    } finally {
      upload = null;
      state.uploading = false;
      cancelUpload.hidden = true;
      update();
    }
  }

  const form = h("form", { class: "composer", novalidate: true },
    h("section", { "aria-labelledby": "video-heading" },
      h("h2", { id: "video-heading" }, "Account and video"),
      editing
        ? field("TikTok account", accountSelect, "A scheduled post's account and video cannot change: to post another video or to another account, cancel this post and compose a new one.")
        : field("TikTok account", accountSelect),
      creatorBox, creatorProblem, fieldSlots.account,
      editing ? storedVideo(editing.video, zone) : field("Video (MP4, MOV or WebM)", fileInput, "It goes straight to our storage and is deleted once TikTok has it, or after 24 hours."),
      videoError, editing ? null : [preview, videoFacts, progressBox],
      h("div", { class: "field" }, h("label", { for: cover.id }, "Cover frame ", coverLabel), cover,
        h("p", { class: "hint" }, "The frame TikTok shows before the video plays."), fieldSlots.cover_timestamp_ms)),
    h("section", { "aria-labelledby": "details-heading" },
      h("h2", { id: "details-heading" }, "Post details"),
      field(h("span", {}, "Caption ", counter), caption, "Hashtags and mentions are part of the caption. TikTok allows 2200 characters; emoji count 2."),
      fieldSlots.caption,
      privacyNote, privacyBox, fieldSlots.privacy_level,
      h("fieldset", {}, h("legend", {}, "Let viewers"), Object.values(interactions).map((box) => box.element),
        h("p", { class: "hint" }, "All off unless you turn them on.")),
      h("fieldset", {}, h("legend", {}, "Content disclosure"), disclose.element, disclosureOptions),
      h("fieldset", {}, h("legend", {}, "AI-generated content"), aigc.element, fieldSlots.is_aigc),
      h("fieldset", {}, h("legend", {}, "When"),
        h("div", { class: "check" }, h("label", { for: nowRadio.id }, nowRadio, h("span", {}, "Publish now"))),
        h("div", { class: "check" }, h("label", { for: laterRadio.id }, laterRadio, h("span", {}, "Schedule for later"))),
        h("div", { class: "field" }, h("label", { for: at.id }, `Date and time (${zone})`), at, atHint, fieldSlots.scheduled_at)),
      h("p", { class: "hint" }, rules.PROCESSING_NOTE),
      fieldSlots.disclosure,
      declaration,
      blockerBox,
      resultSlot,
      h("div", { class: "actions" }, submit)));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    update();
    if (submit.disabled) return;
    submit.disabled = true;
    resultSlot.replaceChildren();
    if (editing) return saveChanges();
    const body = {
      upload_id: state.uploadId,
      account: accountSelect.value,
      caption: state.caption,
      privacy_level: state.privacy,
      allow_comment: state.allow_comment,
      allow_duet: state.allow_duet,
      allow_stitch: state.allow_stitch,
      disclosure: { ...state.disclosure, your_brand: state.disclosure.enabled && state.disclosure.your_brand, branded_content: state.disclosure.enabled && state.disclosure.branded_content },
      is_aigc: state.is_aigc,
      cover_timestamp_ms: state.cover,
      scheduled_at: state.when === "later" ? state.at : "now",
      timezone: zone,
      consent: true, // the creator pressed the button under the declaration
      declaration: rules.declarationFor(state.disclosure),
    };
    try {
      const created = await api.post("/posts", body);
      flash(state.when === "later"
        ? `Scheduled for ${readable(new Date(created.scheduled_at), zone)}.`
        : "Your video is on its way to TikTok. Processing can take a few minutes.");
      go(`history?post=${encodeURIComponent(created.id)}`);
    } catch (error) {
      showRefusal(error);
      submit.disabled = false;
    }
  });

  /** Sends what differs from the stored post, with the consent to the declaration shown above the button. */
  async function saveChanges() {
    const disclosure = {
      enabled: state.disclosure.enabled,
      your_brand: state.disclosure.enabled && state.disclosure.your_brand,
      branded_content: state.disclosure.enabled && state.disclosure.branded_content,
    };
    const changes = {};
    if (state.caption !== editing.caption) changes.caption = state.caption;
    if (state.privacy !== editing.privacy_level) changes.privacy_level = state.privacy;
    for (const name of Object.keys(interactions)) if (state[name] !== editing[name]) changes[name] = state[name];
    if (Object.keys(disclosure).some((key) => disclosure[key] !== editing.disclosure[key])) changes.disclosure = disclosure;
    if (state.is_aigc !== editing.is_aigc) changes.is_aigc = state.is_aigc;
    if (state.cover !== editing.cover_timestamp_ms) changes.cover_timestamp_ms = state.cover;
    if (state.when === "now") changes.scheduled_at = "now";
    else if (state.at !== storedAt) changes.scheduled_at = state.at;
    if (changes.scheduled_at) changes.timezone = zone; // the zone the picker's time is written in
    if (!Object.keys(changes).length) {
      flash("Nothing changed: the post is as it was.");
      go("history");
      return;
    }
    changes.consent = true; // the creator pressed the button under the declaration
    changes.declaration = rules.declarationFor(state.disclosure);
    try {
      const saved = await api.patch(`/posts/${encodeURIComponent(editing.id)}`, changes);
      flash(changes.scheduled_at === "now"
        ? "Your video is on its way to TikTok. Processing can take a few minutes."
        : `Changes saved. Scheduled for ${readable(new Date(saved.scheduled_at), zone)}.`);
      go(`history?post=${encodeURIComponent(saved.id)}`);
    } catch (error) {
      showRefusal(error);
      submit.disabled = false;
    }
  }

  renderPrivacy();
  update();
  loadCreator();
  return form;
}

/** The edited post's video, as stored: it stays in private storage, so there is no preview. */
function storedVideo(video, zone) {
  return h("div", { class: "field stored-video" },
    h("p", {}, h("strong", {}, "Video: "),
      `uploaded ${readable(new Date(video.uploaded_at), zone)}, ${formatBytes(video.size)}, ${video.duration_seconds.toFixed(1)} s, ${video.width}×${video.height}`),
    h("p", { class: "hint" }, "It stays in our private storage until TikTok has it, so it is not previewed here."));
}

/** The video's duration in seconds from its metadata, or null when the browser cannot read it. */
function readDuration(video) {
  return new Promise((resolve) => {
    const done = (value) => {
      video.removeEventListener("loadedmetadata", onLoaded);
      video.removeEventListener("error", onError);
      window.clearTimeout(timer);
      resolve(value);
    };
    const onLoaded = () => done(Number.isFinite(video.duration) ? video.duration : null);
    const onError = () => done(null);
    const timer = window.setTimeout(() => done(null), 8000);
    video.addEventListener("loadedmetadata", onLoaded);
    video.addEventListener("error", onError);
  });
}
