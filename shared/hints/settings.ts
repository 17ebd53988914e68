/**
 * Whether this deployment keeps the blocks' hints: the stream processor writes them
 * and the audit expects one wherever a block has items (issue 17, stage 2: a shadow
 * nothing reads yet). `IPAM_HINTS=on` (the stack's `deriveHints`, given to every
 * function), default off.
 */
export function hintsWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  const text = env.IPAM_HINTS;
  if (text === undefined || text === '' || text === 'off') return false;
  if (text === 'on') return true;
  throw new Error(`IPAM_HINTS must be "on" or "off", not "${text}".`);
}
