import { nestsDeeperThan } from '../../apps/api/src/http/json-body';

describe('nestsDeeperThan (the JSON body parser counts nesting before it parses)', () => {
  const nested = (depth: number) => '{"a":'.repeat(depth) + '[1]' + '}'.repeat(depth);

  it('counts arrays and objects together, up to the limit and past it', () => {
    expect(nestsDeeperThan(nested(31), 32)).toBe(false);
    expect(nestsDeeperThan(nested(32), 32)).toBe(true);
    expect(nestsDeeperThan('[[],[],{"a":[]}]', 3)).toBe(false);
    expect(nestsDeeperThan('[[],[],{"a":[]}]', 2)).toBe(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    const text = JSON.stringify({ a: '[[[[{{{{', b: 'say \\"[[[[" and "{{{{', c: '\\\\' });
    expect(nestsDeeperThan(text, 1)).toBe(false);
    expect(nestsDeeperThan(`{"a":"\\"",${'['.repeat(3)}${']'.repeat(3)}}`, 3)).toBe(true);
  });
});
