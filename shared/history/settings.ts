/** How long history is kept: `historyRetentionDays` of the stack, IPAM_HISTORY_RETENTION_DAYS. */
export const DEFAULT_HISTORY_RETENTION_DAYS = 90;

/** The retention in days from the environment (a whole number ≥ 1), else the default. */
export function historyRetentionDays(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.IPAM_HISTORY_RETENTION_DAYS;
  if (text === undefined || text === '') return DEFAULT_HISTORY_RETENTION_DAYS;
  const days = Number(text);
  if (!Number.isInteger(days) || days < 1) {
    throw new Error(
      `IPAM_HISTORY_RETENTION_DAYS must be a whole number of days ≥ 1, not "${text}".`,
    );
  }
  return days;
}
