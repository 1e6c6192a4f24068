// lib/oauth/json-style.ts: writing JSON as Python's json.dumps and JS's JSON.stringify do, so token files
// keep their owner's layout (/work/shared/research/google-oauth.md §1.1, §1.5). Expected strings were
// produced with CPython 3.11 json.dumps / repr.
import { describe, expect, it } from 'vitest'
import { JS_COMPACT, PYTHON_DUMPS, PYTHON_INDENT_2, detectStyle, floatLiteralPaths, formatJson, pyFloatRepr } from '../../lib/oauth/json-style.ts'

describe("Python's repr(float)", () => {
  it.each([
    [1e16, '1e+16'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [123, '123.0'],
    [1767270000.5, '1767270000.5'],
    [1767270000.123456, '1767270000.123456'],
    [1e22, '1e+22'],
    [2.5e-7, '2.5e-07'],
    // biome-ignore lint/correctness/noPrecisionLoss: the point: a number JavaScript already rounded
    [12345678901234567, '1.2345678901234568e+16'],
    [0.1 + 0.2, '0.30000000000000004'],
    [-0, '-0.0'],
    [-42.25, '-42.25'],
  ])('%d → %s', (n, repr) => {
    expect(pyFloatRepr(n)).toBe(repr)
  })
})

describe('json.dumps', () => {
  it('escapes like ensure_ascii=True: non-ASCII, DEL and controls as lowercase \\u, astral as surrogate pairs', () => {
    expect(formatJson({ a: 'é😀\x7f/"\\\n\x01' }, PYTHON_DUMPS)).toBe('{"a": "\\u00e9\\ud83d\\ude00\\u007f/\\"\\\\\\n\\u0001"}')
  })

  it('uses ", " and ": " on one line, and "," with indent=2; empty containers stay compact', () => {
    const v = { a: [1, 'x'], b: {}, c: [], d: null, e: true }
    expect(formatJson(v, PYTHON_DUMPS)).toBe('{"a": [1, "x"], "b": {}, "c": [], "d": null, "e": true}')
    expect(formatJson(v, PYTHON_INDENT_2)).toBe('{\n  "a": [\n    1,\n    "x"\n  ],\n  "b": {},\n  "c": [],\n  "d": null,\n  "e": true\n}')
  })

  it('prints integral floats with .0 only where the source had a float', () => {
    expect(formatJson({ n: 3599, at: 1767270000 }, PYTHON_DUMPS, new Set(['/at']))).toBe('{"n": 3599, "at": 1767270000.0}')
  })
})

describe('JSON.stringify flavour', () => {
  it('leaves non-ASCII alone and drops spaces', () => {
    expect(formatJson({ a: 'é', b: [1.0, 2.5] }, JS_COMPACT)).toBe('{"a":"é","b":[1,2.5]}')
  })
})

describe('reading a layout back', () => {
  it('finds float literals by JSON pointer, nested and in arrays, ignoring strings that look like numbers', () => {
    const text = '{"a": 1, "b": 2.0, "c": [3, 4e5, {"d/e": -1.5}], "f": "6.0", "g": true, "h": false}'
    expect([...floatLiteralPaths(text)].sort()).toEqual(['/b', '/c/1', '/c/2/d~1e'])
  })

  it('detects separators, indent and the trailing newline', () => {
    expect(detectStyle('{"a": 1, "b": 2}', 'python')).toEqual(PYTHON_DUMPS)
    expect(detectStyle('{\n  "a": 1\n}', 'python')).toEqual(PYTHON_INDENT_2)
    expect(detectStyle('{"a":1}\n', 'js')).toEqual({ ...JS_COMPACT, trailingNewline: true })
    expect(detectStyle('{\n\t"a": 1\n}', 'js').indent).toBe('\t')
  })
})
