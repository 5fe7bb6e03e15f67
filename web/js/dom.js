// A tiny element builder and the page-wide message helpers.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "indeterminate", "max", "min"]);

/** h("button", {type: "button", onclick}, "text", child, ...): an element with attributes and children. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) {
      if (PROPERTIES.has(name) && value === false) element[name] = false;
      continue;
    }
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (name === "class") element.className = value;
    else if (name === "text") element.textContent = value;
    else if (PROPERTIES.has(name)) element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let fieldCounter = 0;
export function uid(prefix = "f") {
  fieldCounter += 1;
  return `${prefix}-${fieldCounter}`;
}

/** A labelled input: the label's `for`, an optional hint tied by aria-describedby. */
export function field(labelText, input, hintText) {
  input.id ||= uid("field");
  const hint = hintText ? h("p", { class: "hint", id: `${input.id}-hint` }, hintText) : null;
  if (hint) input.setAttribute("aria-describedby", hint.id);
  return h("div", { class: "field" }, h("label", { for: input.id }, labelText), input, hint);
}

export function checkbox(labelText, attributes = {}, hintText) {
  const input = h("input", { type: "checkbox", id: uid("check"), ...attributes });
  const hint = hintText ? h("span", { class: "hint", id: `${input.id}-hint` }, hintText) : null;
  if (hint) input.setAttribute("aria-describedby", hint.id);
  return { input, element: h("div", { class: "check field" }, h("label", { for: input.id }, input, h("span", {}, labelText, hint ? h("br") : null, hint))) };
}

export function message(text, kind = "") {
  return h("div", { class: `message ${kind}`.trim(), role: kind === "error" ? "alert" : "status" }, text);
}

/** A message shown above the next screen (survives one navigation). */
let pendingFlash = null;
export function flash(text, kind = "") {
  pendingFlash = { text, kind };
}
export function showFlash() {
  const box = document.getElementById("flash");
  box.replaceChildren();
  if (pendingFlash) box.append(message(pendingFlash.text, pendingFlash.kind));
  pendingFlash = null;
}
export function clearFlash() {
  document.getElementById("flash").replaceChildren();
}

/** Says `text` to screen readers without moving focus. */
export function announce(text) {
  const box = document.getElementById("announcer");
  box.textContent = "";
  window.setTimeout(() => (box.textContent = text), 50);
}

/** The error of an API call as a message element, with each refused field when the API names them. */
export function errorMessage(error) {
  const fields = error.fields || [];
  return h(
    "div",
    { class: "message error", role: "alert" },
    error.message,
    fields.length ? h("ul", { class: "problems" }, fields.map((item) => h("li", {}, item.problem))) : null,
  );
}

/** Runs `action` while `button` is disabled; shows a failure in `slot`. */
export async function busy(button, slot, action) {
  button.disabled = true;
  slot?.replaceChildren();
  try {
    return await action();
  } catch (error) {
    if (slot) slot.replaceChildren(errorMessage(error));
    else throw error;
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function formatBytes(bytes) {
  const units = [["GB", 1024 ** 3], ["MB", 1024 ** 2], ["KB", 1024]];
  for (const [unit, scale] of units) if (bytes >= scale) return `${(bytes / scale).toFixed(1)} ${unit}`;
  return `${bytes} bytes`;
}

/** Asks a yes/no question in a modal <dialog>; resolves true when confirmed. */
export function confirmDialog(title, body, confirmLabel, { danger = false, extra = null } = {}) {
  return new Promise((resolve) => {
    const titleId = uid("dialog");
    const yes = h("button", { type: "submit", value: "yes", class: danger ? "danger" : "" }, confirmLabel);
    const no = h("button", { type: "submit", value: "no", class: "secondary", formnovalidate: true }, "Cancel");
    const dialog = h(
      "dialog",
      { "aria-labelledby": titleId },
      h("form", { method: "dialog" }, h("h2", { id: titleId }, title), h("p", {}, body), extra, h("div", { class: "actions" }, yes, no)),
    );
    dialog.addEventListener("close", () => {
      const confirmed = dialog.returnValue === "yes";
      dialog.remove();
      resolve(confirmed);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
