// TikTok's Direct Post composer rules (content-sharing guidelines), as the console applies them before the
// API checks them again. The texts must match the backend's word for word: the declaration the creator
// accepts is compared with the one the API expects (a test reads both files and compares them).

export const CAPTION_MAX_UTF16 = 2200;
export const MUSIC_DECLARATION = "By posting, you agree to TikTok's Music Usage Confirmation.";
export const BRANDED_DECLARATION = "By posting, you agree to TikTok's Branded Content Policy and Music Usage Confirmation.";
export const LABEL_YOUR_BRAND = "Your photo/video will be labeled as 'Promotional content'";
export const LABEL_BRANDED = "Your photo/video will be labeled as 'Paid partnership'";
export const DISCLOSURE_HINT = "You need to indicate if your content promotes yourself, a third party, or both.";
export const BRANDED_NOT_PRIVATE = "Branded content visibility cannot be set to private.";
export const PROCESSING_NOTE = "After you post, TikTok may take a few minutes to process your video before it appears on your profile.";

export const PRIVACY_LABELS = {
  PUBLIC_TO_EVERYONE: "Everyone",
  MUTUAL_FOLLOW_FRIENDS: "Friends",
  FOLLOWER_OF_CREATOR: "Followers",
  SELF_ONLY: "Only me",
};
export const SELF_ONLY = "SELF_ONLY";

// Videos are deleted at most this long after upload (the VideoRetentionHours parameter's maximum), and a
// post must start this long before that, so the video can still be streamed to TikTok.
export const RETENTION_HOURS = 24;
export const PUBLISH_MARGIN_MINUTES = 30;
export const MAX_VIDEO_BYTES = 4 * 1024 ** 3;
export const VIDEO_TYPES = { mp4: "video/mp4", mov: "video/quicktime", webm: "video/webm" };

/** The caption's length as TikTok counts it: UTF-16 code units (an emoji counts 2), which is JS's length. */
export function utf16Length(text) {
  return text.length;
}

export function declarationFor(disclosure) {
  return disclosure.enabled && disclosure.branded_content ? BRANDED_DECLARATION : MUSIC_DECLARATION;
}

/** The label TikTok will show on the post for this disclosure, or null. */
export function disclosureLabel(disclosure) {
  if (!disclosure.enabled) return null;
  if (disclosure.branded_content) return LABEL_BRANDED;
  if (disclosure.your_brand) return LABEL_YOUR_BRAND;
  return null;
}

export function contentTypeOf(file) {
  if (Object.values(VIDEO_TYPES).includes(file.type)) return file.type;
  const extension = (file.name.split(".").pop() || "").toLowerCase();
  return VIDEO_TYPES[extension] || null;
}

/** Why the video cannot be posted by this creator, before it is uploaded (null: fine). */
export function videoProblem(file, durationSeconds, maxDurationSeconds) {
  if (!contentTypeOf(file)) return "TikTok accepts MP4, MOV and WebM videos.";
  if (file.size > MAX_VIDEO_BYTES) return "TikTok accepts videos of up to 4 GB.";
  if (durationSeconds !== null && maxDurationSeconds && durationSeconds > maxDurationSeconds) {
    return `This account can post videos of up to ${maxDurationSeconds} seconds; this one lasts ${Math.round(durationSeconds)}.`;
  }
  return null;
}

/**
 * What still stops the post, in words, in the order of the form. `state` holds the composer's choices and
 * `creator` the fresh creator info.
 */
export function blockers(state, creator) {
  const problems = [];
  if (!creator) problems.push("Choose a TikTok account.");
  else if (!creator.can_post) problems.push("TikTok does not let this account post right now. Try again later.");
  if (!state.uploaded) problems.push(state.uploading ? "Wait for the video to finish uploading." : "Add a video.");
  if (state.videoProblem) problems.push(state.videoProblem);
  if (utf16Length(state.caption) > CAPTION_MAX_UTF16) {
    problems.push(`Shorten the caption to ${CAPTION_MAX_UTF16} characters (emoji count 2).`);
  }
  if (!state.privacy) problems.push("Choose who can see this post.");
  const disclosure = state.disclosure;
  if (disclosure.enabled && !disclosure.your_brand && !disclosure.branded_content) problems.push(DISCLOSURE_HINT);
  if (disclosure.enabled && disclosure.branded_content && state.privacy === SELF_ONLY) problems.push(BRANDED_NOT_PRIVATE);
  if (state.when === "later" && !state.at) problems.push("Choose the date and time to publish.");
  if (state.when === "later" && state.at && state.timeProblem) problems.push(state.timeProblem);
  return problems;
}
