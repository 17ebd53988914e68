/** Size limits of user-supplied fields; the HTTP schemas and the domain share them. */
export const LIMITS = {
  nameLength: 256,
  ownerLength: 256,
  descriptionLength: 1024,
  tagCount: 50,
  tagKeyLength: 128,
  tagValueLength: 256,
  spacePattern: /^[A-Za-z0-9._-]{1,64}$/,
  bulkCount: 100,
  ttlSeconds: { min: 60, max: 31_536_000 },
  /** A subnet's release cool-down (`reuseDelaySeconds`): up to one day. */
  reuseDelaySeconds: { min: 0, max: 86_400 },
  pageSize: { min: 1, max: 1000, default: 100 },
} as const;

export const DEFAULT_SPACE = 'default';
