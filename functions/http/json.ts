/**
 * Strict JSON for request bodies. `JSON.parse` lets the last of two equal keys win
 * (`{"count": 1, "count": 100}` is 100) and accepts keys that reach prototypes when
 * copied; a request that says a thing twice is as ambiguous as a typo, so both are
 * refused like unknown fields are.
 */

/** Keys refused anywhere in a body: they reach prototypes when an object is copied. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set([
  '__proto__',
  'constructor',
  'prototype',
]);

export type KeyProblem =
  | { readonly kind: 'duplicate'; readonly key: string; readonly path: string }
  | { readonly kind: 'forbidden'; readonly key: string; readonly path: string };

/** A container on the scan's stack: an object's keys so far, or an array's next index. */
type Frame =
  | { readonly type: 'object'; readonly keys: Set<string>; key: string | undefined }
  | { readonly type: 'array'; index: number };

/**
 * The first duplicate or forbidden key of a JSON text that `JSON.parse` accepted, with
 * its place (`tags.team`, `items.2.name`; the top level is ``), or undefined.
 * Keys compare as decoded, so `"co\u0075nt"` repeats `"count"`. Iterative, so any
 * depth JSON.parse accepts is fine; linear in the text.
 */
export function findKeyProblem(text: string): KeyProblem | undefined {
  const stack: Frame[] = [];
  // Inside an object, a string is a key when it comes right after `{` or `,`.
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      const end = stringEnd(text, i);
      const top = stack[stack.length - 1];
      if (expectKey && top?.type === 'object') {
        const key = JSON.parse(text.slice(i, end)) as string;
        // The place is built only for the answer: per key it would be quadratic in depth.
        if (FORBIDDEN_KEYS.has(key)) return { kind: 'forbidden', key, path: placeOf(stack, key) };
        if (top.keys.has(key)) return { kind: 'duplicate', key, path: placeOf(stack, key) };
        top.keys.add(key);
        top.key = key;
        expectKey = false;
      }
      i = end;
      continue;
    }
    if (char === '{') {
      stack.push({ type: 'object', keys: new Set(), key: undefined });
      expectKey = true;
    } else if (char === '[') {
      stack.push({ type: 'array', index: 0 });
      expectKey = false;
    } else if (char === '}' || char === ']') {
      stack.pop();
      expectKey = false;
    } else if (char === ',') {
      const top = stack[stack.length - 1];
      if (top?.type === 'array') top.index++;
      expectKey = top?.type === 'object';
    }
    i++;
  }
  return undefined;
}

/** The index just past the closing quote of the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const char = text[i];
    if (char === '\\') i += 2;
    else if (char === '"') return i + 1;
    else i++;
  }
  return text.length;
}

/** The dotted place of `key` inside the containers on the stack. */
function placeOf(stack: readonly Frame[], key: string): string {
  const parts: string[] = [];
  // The innermost frame is the object that holds `key`; the outer ones lead to it.
  for (const frame of stack.slice(0, -1)) {
    parts.push(frame.type === 'array' ? String(frame.index) : (frame.key ?? ''));
  }
  parts.push(key);
  return parts.join('.');
}
