// Daily and weekly reports: validated on ingest, kept as JSON documents in R2 (the report
// snapshots, `reports/<channel>/<kind>/<key>.json`) with an index row in D1.
// The read errors are the channel's own, word for word (SPEC §3).

import { HttpError, isObject } from "./http.js";

export const DATE_ERROR = "invalid date format, use YYYY-MM-DD";
export const WEEK_FORMAT_ERROR = "invalid week format, use YYYY-Www";
export const WEEK_INVALID_ERROR = "invalid iso week";

/** `YYYY-MM-DD` of a real calendar day, else a 400 with the original message. */
export function parseDay(value) {
  const m = typeof value === "string" ? /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(value) : null;
  if (m === null) throw new HttpError(400, DATE_ERROR);
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const when = new Date(Date.UTC(2000, mo - 1, d));
  when.setUTCFullYear(y);
  if (y < 1 || when.getUTCFullYear() !== y || when.getUTCMonth() !== mo - 1 || when.getUTCDate() !== d) {
    throw new HttpError(400, DATE_ERROR);
  }
  return value;
}

function jan1Weekday(year) {
  // 0 = Sunday ... 6 = Saturday, proleptic Gregorian.
  const y = year - 1;
  return (1 + 5 * (y % 4) + 4 * (y % 100) + 6 * (y % 400)) % 7;
}

export function isoWeeksIn(year) {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const jan1 = jan1Weekday(year);
  return jan1 === 4 || (leap && jan1 === 3) ? 53 : 52;
}

/** `YYYY-Www` of a week that exists in that ISO year, else a 400 with the original message. */
export function parseWeek(value) {
  const m = typeof value === "string" ? /^([0-9]{4})-W([0-9]{2})$/.exec(value) : null;
  if (m === null) throw new HttpError(400, WEEK_FORMAT_ERROR);
  const year = Number(m[1]);
  const week = Number(m[2]);
  if (year < 1 || week < 1 || week > isoWeeksIn(year)) throw new HttpError(400, WEEK_INVALID_ERROR);
  return value;
}

export const KINDS = {
  daily: { field: "date", parse: parseDay },
  weekly: { field: "week", parse: parseWeek },
};

/** The key ({date} or {week}) of an ingested report body; 422 when the body is unusable. */
export function reportKey(kind, body) {
  const { field, parse } = KINDS[kind];
  if (!isObject(body)) throw new HttpError(422, `${kind} report must be a JSON object`);
  let key;
  try {
    key = parse(body[field]);
  } catch (err) {
    throw new HttpError(422, `${field}: ${err.message}`);
  }
  for (const part of ["summary", "metrics"]) {
    if (!isObject(body[part])) throw new HttpError(422, `${part} must be a JSON object`);
  }
  return key;
}

export function reportObjectKey(channel, kind, key) {
  return `reports/${channel}/${kind}/${key}.json`;
}
