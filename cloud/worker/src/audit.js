// The edge's audit trail (D1 `audit`): who did what to which channel, append-only;
// the cron trigger drops rows past AUDIT_RETAIN_DAYS.

export function auditStatement(db, { at, channel, actor, action, details }) {
  return db
    .prepare("INSERT INTO audit (at, channel, actor, action, details) VALUES (?, ?, ?, ?, ?)")
    .bind(at, channel, actor, action, JSON.stringify(details ?? {}));
}

export async function audit(db, entry) {
  await auditStatement(db, entry).run();
}
