/**
 * What a lookup box entry is: a MAC (the three forms the API accepts), an address
 * (anything with a colon, or dotted digits: the API judges it and says why not), or
 * else an owner.
 */
export type LookupKind = 'mac' | 'address' | 'owner';

const MAC =
  /^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$|^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i;

export function lookupKind(text: string): LookupKind {
  if (MAC.test(text)) return 'mac';
  if (text.includes(':') || /^[0-9.]+$/.test(text)) return 'address';
  return 'owner';
}
