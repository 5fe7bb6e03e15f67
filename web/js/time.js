// Wall-clock times in the user's IANA time zone, computed with Intl (the browser's zone does not matter).

const partsCache = new Map();

function formatter(timeZone) {
  if (!partsCache.has(timeZone)) {
    partsCache.set(
      timeZone,
      new Intl.DateTimeFormat("en-CA", {
        timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      }),
    );
  }
  return partsCache.get(timeZone);
}

/** "YYYY-MM-DDTHH:MM": what a clock in `timeZone` shows at `date` (the format of <input type=datetime-local>). */
export function wallClock(date, timeZone) {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(date).map((part) => [part.type, part.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** "UTC+01:00" for `timeZone` at `date`. */
export function offsetLabel(timeZone, date = new Date()) {
  const name = new Intl.DateTimeFormat("en", { timeZone, timeZoneName: "longOffset" })
    .formatToParts(date)
    .find((part) => part.type === "timeZoneName")?.value;
  return !name || name === "GMT" ? "UTC+00:00" : name.replace("GMT", "UTC");
}

export function zoneLabel(timeZone) {
  return `${timeZone} (${offsetLabel(timeZone)})`;
}

/** A readable date and time in `timeZone`. */
export function readable(date, timeZone, options = {}) {
  return new Intl.DateTimeFormat(undefined, { timeZone, dateStyle: "medium", timeStyle: "short", ...options }).format(date);
}

export function timeOnly(date, timeZone) {
  return new Intl.DateTimeFormat(undefined, { timeZone, hour: "2-digit", minute: "2-digit" }).format(date);
}

/** Every IANA zone the browser knows (for the profile and sign-up forms). */
export function timeZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"];
  }
}

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

// --- calendar days (as UTC dates, so day arithmetic never meets a DST change) ---

export function dayOf(wallClockText) {
  const [year, month, day] = wallClockText.slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(year, month - 1, day));
}

export function addDays(day, count) {
  return new Date(day.getTime() + count * 86_400_000);
}

export function isoDay(day) {
  return day.toISOString().slice(0, 10);
}

/** The Monday on or before `day`. */
export function startOfWeek(day) {
  return addDays(day, -((day.getUTCDay() + 6) % 7));
}

export function startOfMonth(day) {
  return new Date(Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1));
}
