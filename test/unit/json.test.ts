/** Strict JSON bodies: the duplicate- and forbidden-key scan behind 400 VALIDATION_ERROR. */
import { describe, expect, it } from 'vitest';
import { parseJsonObject } from '../../functions/http/body.js';
import { findKeyProblem } from '../../functions/http/json.js';

describe('findKeyProblem', () => {
  it('accepts JSON whose objects name each key once', () => {
    for (const text of [
      '{}',
      '{"count": 1, "owner": "a"}',
      '{"a": {"a": {"a": 1}}}',
      '[{"a": 1}, {"a": 2}]',
      '{"tags": {"x": "1"}, "x": "y"}',
      '{"a": "\\"a\\": 1, \\"a\\": 2"}',
      '{"a": ["b", "b"], "b": {"c": []}}',
      '{"": 1, " ": 2}',
      '"count"',
      '[[[]]]',
    ]) {
      expect(findKeyProblem(text), text).toBeUndefined();
    }
  });

  it('finds a repeated top-level key', () => {
    expect(findKeyProblem('{"count": 1, "count": 100}')).toEqual({
      kind: 'duplicate',
      key: 'count',
      path: 'count',
    });
  });

  it('compares keys as decoded, so an escaped spelling repeats the plain one', () => {
    expect(findKeyProblem('{"count": 1, "co\\u0075nt": 100}')).toMatchObject({
      kind: 'duplicate',
      key: 'count',
    });
    expect(findKeyProblem('{"a\\"b": 1, "a\\u0022b": 2}')).toMatchObject({ key: 'a"b' });
  });

  it('finds repeats in nested objects and objects inside arrays, with their place', () => {
    expect(findKeyProblem('{"tags": {"team": "a", "team": "b"}}')).toEqual({
      kind: 'duplicate',
      key: 'team',
      path: 'tags.team',
    });
    expect(
      findKeyProblem('{"allocationPools": [{"start": "1"}, {"start": "2", "start": "3"}]}'),
    ).toEqual({ kind: 'duplicate', key: 'start', path: 'allocationPools.1.start' });
  });

  it('does not mistake strings that look like keys, or values, for keys', () => {
    expect(findKeyProblem('{"a": "a", "b": "a"}')).toBeUndefined();
    expect(findKeyProblem('{"a": {"b": 1}, "b": 2}')).toBeUndefined();
    expect(findKeyProblem('{"a": [1, {"x": 1}], "x": 2}')).toBeUndefined();
  });

  it('finds prototype keys anywhere, also escaped', () => {
    expect(findKeyProblem('{"tags": {"__proto__": "x"}}')).toMatchObject({
      kind: 'forbidden',
      key: '__proto__',
    });
    expect(findKeyProblem('{"\\u0063onstructor": 1}')).toMatchObject({
      kind: 'forbidden',
      key: 'constructor',
    });
  });

  it('handles any depth JSON.parse accepts (no recursion)', () => {
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    expect(findKeyProblem(deep)).toBeUndefined();
  });
});

describe('parseJsonObject', () => {
  it('refuses a repeated key with VALIDATION_ERROR naming the field', () => {
    expect(() => parseJsonObject('{"count": 1, "count": 100}')).toThrow(
      expect.objectContaining({
        code: 'VALIDATION_ERROR',
        message: expect.stringContaining('body.count'),
      }),
    );
  });
});
