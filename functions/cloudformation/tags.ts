/**
 * The provider's own tags on what it creates: the request and resource keys that
 * let a retry find earlier work, and the stack and logical id for people.
 */
import { LIMITS } from '../../shared/limits.js';
import type { RequestRef } from './request.js';

/** Tags the provider adds to what it creates; users may not set tags with this prefix. */
export const CFN_TAG_PREFIX = 'ipam:cfn-';
export const CFN_TAGS = {
  request: `${CFN_TAG_PREFIX}request`,
  resource: `${CFN_TAG_PREFIX}resource`,
  stack: `${CFN_TAG_PREFIX}stack`,
  logicalId: `${CFN_TAG_PREFIX}logical-id`,
} as const;
export const CFN_TAG_COUNT = Object.keys(CFN_TAGS).length;

export function cfnTags(ref: RequestRef): Record<string, string> {
  return {
    [CFN_TAGS.request]: ref.requestKey,
    [CFN_TAGS.resource]: ref.resourceKey,
    [CFN_TAGS.stack]: ref.stackName.slice(0, LIMITS.tagValueLength),
    [CFN_TAGS.logicalId]: ref.logicalResourceId.slice(0, LIMITS.tagValueLength),
  };
}

/** The user's tags plus the provider's tags the resource already has (its creating request). */
export function mergedTags(
  user: Readonly<Record<string, string>>,
  current: Readonly<Record<string, string>>,
  ref: RequestRef,
): Record<string, string> {
  const kept = Object.entries(current).filter(([key]) => key.startsWith(CFN_TAG_PREFIX));
  return { ...user, ...(kept.length > 0 ? Object.fromEntries(kept) : cfnTags(ref)) };
}

export function sameTags(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}
