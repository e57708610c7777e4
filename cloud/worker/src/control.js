// The control calls an operator may relay to a channel, and the early check of their bodies.
//
// The bodies are the channel's own control API's (vvtv/web/params.py); the channel checks
// them again when it applies the command, so these checks only spare the operator a round
// trip. The exact bytes the operator signed are what the channel receives.

import { HttpError, isObject, parseJson } from "./http.js";

export const CURATOR_MODES = ["auto", "advise", "off"];
const CURATOR_LIMITS = { min_confidence: "number", max_reorders_per_hour: "integer" };

function emptyOrObject(kind, payload) {
  if (payload !== null && !isObject(payload)) {
    throw new HttpError(422, `${kind} takes an empty body or a JSON object`);
  }
}

export const KINDS = {
  "reload-owner-card": (payload) => emptyOrObject("reload-owner-card", payload),
  nightly: (payload) => emptyOrObject("nightly", payload),
  "emergency-mode": (payload) => {
    // Empty or {} toggles; {"enabled": true|false} forces; {"enabled": null} releases.
    if (payload === null) return;
    if (!isObject(payload)) throw new HttpError(422, 'body must be a JSON object like {"enabled": true}');
    const unknown = Object.keys(payload).filter((k) => k !== "enabled").sort();
    if (unknown.length > 0) throw new HttpError(422, `unknown field(s): ${unknown.join(", ")}`);
    if ("enabled" in payload && payload.enabled !== null && typeof payload.enabled !== "boolean") {
      throw new HttpError(422, "enabled must be true, false or null (release the override)");
    }
  },
  "curator-mode": (payload) => {
    if (payload === null) throw new HttpError(400, "request body must be JSON");
    if (!isObject(payload)) throw new HttpError(422, 'body must be a JSON object like {"mode": "advise"}');
    if (!CURATOR_MODES.includes(payload.mode)) {
      throw new HttpError(422, `mode must be one of ${CURATOR_MODES.join(", ")}`);
    }
    for (const [key, value] of Object.entries(payload)) {
      if (key === "mode") continue;
      const kind = CURATOR_LIMITS[key];
      if (kind === undefined) {
        throw new HttpError(
          422,
          `unknown field '${key}'; limits are ${Object.keys(CURATOR_LIMITS).sort().join(", ")}`,
        );
      }
      if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new HttpError(422, `${key} must be a finite number`);
      }
      if (kind === "integer" && !Number.isInteger(value)) throw new HttpError(422, `${key} must be an integer`);
    }
  },
};

/** Check a control body for `kind` (400 malformed, 422 invalid); returns nothing. */
export function checkControlBody(kind, bytes) {
  KINDS[kind](parseJson(bytes, { allowEmpty: true }));
}
