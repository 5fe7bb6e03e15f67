// The API client: same-site fetch with the session cookie, the CSRF header on unsafe methods, and one
// place that turns a 401 into "back to sign-in".

const API_BASE = document.querySelector('meta[name="flowctory-api"]')?.content.replace(/\/$/, "") || "";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** What a call with `{notFound: MISSING}` answers when the route does not exist (404). */
export const MISSING = Symbol("missing");

let csrfToken = null;
let signedOut = () => {};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const detail = body && typeof body === "object" ? body.error || body : null;
    super((detail && detail.message) || fallback || `The server answered ${status}.`);
    this.status = status;
    this.code = (detail && detail.code) || null;
    this.fields = (detail && Array.isArray(detail.fields) && detail.fields) || [];
    this.retryAfter = null;
  }
}

/** Called with a message whenever the API says nobody is signed in (401). */
export function onSignedOut(callback) {
  signedOut = callback;
}

export function forgetCsrf() {
  csrfToken = null;
}

export function apiUrl(path) {
  return API_BASE + path;
}

export async function refreshCsrf() {
  const answer = await request("GET", "/auth/csrf", undefined, { allow401: true });
  csrfToken = answer.csrf_token;
  return csrfToken;
}

/**
 * One API call. `allow401`: the caller handles 401 itself (sign-in forms); `notFound: MISSING` makes a 404
 * answer MISSING instead of throwing (routes that may not exist yet).
 */
export async function request(method, path, body, options = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    if (!csrfToken) await refreshCsrf();
    headers["X-CSRF-Token"] = csrfToken;
  }
  let response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "include",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null, "The Flowctory server could not be reached. Check your connection and try again.");
  }
  const data = await readBody(response);
  if (response.ok) {
    if (data && typeof data === "object" && typeof data.csrf_token === "string") csrfToken = data.csrf_token;
    return data;
  }
  if (response.status === 404 && "notFound" in options) return options.notFound;
  if (response.status === 403 && data?.error?.code === "csrf_failed" && !options.retried) {
    await refreshCsrf();
    return request(method, path, body, { ...options, retried: true });
  }
  const error = new ApiError(response.status, data);
  if (response.status === 429) error.retryAfter = Number(response.headers.get("Retry-After")) || null;
  if (response.status === 401 && !options.allow401) {
    csrfToken = null;
    signedOut(error.message || "Please sign in again.");
  }
  throw error;
}

async function readBody(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.slice(0, 200) };
  }
}

export const get = (path, options) => request("GET", path, undefined, options);
export const post = (path, body, options) => request("POST", path, body ?? {}, options);
export const patch = (path, body, options) => request("PATCH", path, body, options);
export const put = (path, body, options) => request("PUT", path, body, options);
export const del = (path, body, options) => request("DELETE", path, body, options);

/**
 * Send a file to a presigned S3 form POST with XMLHttpRequest, whose upload events give real progress.
 * `onProgress(loaded, total)` gets the bytes of the request body sent so far. Returns { promise, abort }.
 */
export function uploadToBucket(ticket, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append("file", file);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new ApiError(xhr.status, null, `The video store refused the upload (${xhr.status}). Try again.`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null, "The upload was interrupted. Try again.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, null, "Upload cancelled.")));
    xhr.open(ticket.method || "POST", ticket.url);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}
