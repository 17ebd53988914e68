/** Option parsers and the action wrapper shared by the commands. */
import { type Command, InvalidArgumentError } from 'commander';
import { type Ctx, contextOf } from './context.js';

/** `--tag k=v`, repeatable; `--tag k` is an empty value. */
export function collectTag(value: string, previous: Record<string, string> = {}) {
  const eq = value.indexOf('=');
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key.length === 0) throw new InvalidArgumentError('a tag is key=value (or key)');
  return { ...previous, [key]: eq < 0 ? '' : value.slice(eq + 1) };
}

/** `--pool START-END` (IPv4 or IPv6; split on the dash), repeatable. */
export function collectPool(value: string, previous: { start: string; end: string }[] = []) {
  const parts = value.split('-');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new InvalidArgumentError('an allocation pool is START-END, e.g. 10.0.0.10-10.0.0.200');
  }
  return [...previous, { start: parts[0]!.trim(), end: parts[1]!.trim() }];
}

export function integer(min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new InvalidArgumentError(`not a whole number: ${value}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be from ${min} to ${max}`);
    return n;
  };
}

/**
 * `--ttl` as seconds, or with a unit: 90s, 15m, 12h, 7d. The server checks the
 * range (60 s to 365 d).
 */
export function duration(value: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(value);
  if (!match) throw new InvalidArgumentError('a duration is seconds or 90s, 15m, 12h, 7d');
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

// biome-ignore lint/suspicious/noExplicitAny: commander hands actions untyped options
export type Opts = Record<string, any>;

/** Wraps an action: commander passes (...args, options, command). */
export function action(fn: (ctx: Ctx, opts: Opts, ...args: string[]) => Promise<void>) {
  return async (...all: unknown[]) => {
    const command = all.at(-1) as Command;
    // optsWithGlobals: a parent (e.g. `alloc`) may have parsed an option meant for its subcommand.
    const opts = command.optsWithGlobals() as Opts;
    const args = all.slice(0, -2) as string[];
    await fn(contextOf(command), opts, ...args);
  };
}
