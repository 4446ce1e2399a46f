import { describe, expect, test } from 'vitest'
import { decodeBase64Json, encodeBase64Json } from '../../src/utils/base64.js'
import { maxJsonDepth, parseJson } from '../../src/utils/guards.js'

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`

describe('parseJson', () => {
  test('behavior: parses JSON nested up to the limit, and refuses one level more', () => {
    expect(parseJson(nested(maxJsonDepth))).toBeDefined()
    expect(parseJson(nested(maxJsonDepth + 1))).toBeUndefined()
    expect(parseJson(`{"a":${nested(maxJsonDepth)}}`)).toBeUndefined()
  })

  test('behavior: brackets and escaped quotes inside strings are not nesting', () => {
    const text = JSON.stringify({ note: `"${'['.repeat(500)}\\"{{{`, list: ['a"]]]', '\\\\'] })
    expect(parseJson(text)).toEqual(JSON.parse(text))
  })

  test('error: thousands of levels, broken JSON and an unclosed string are undefined, not thrown', () => {
    expect(parseJson(nested(100_000))).toBeUndefined()
    expect(parseJson('{"a":')).toBeUndefined()
    expect(parseJson('"abc')).toBeUndefined()
    expect(parseJson('')).toBeUndefined()
  })
})

describe('base64 JSON', () => {
  test('behavior: ASCII and non-ASCII JSON round-trip, as UTF-8', () => {
    for (const value of [{ a: 1, b: 'plain' }, { q: 'räksmörgås ✓ 𝄞' }, ['x'.repeat(100_000)]]) {
      const encoded = encodeBase64Json(value)
      expect(decodeBase64Json(encoded)).toEqual(value)
      expect(new TextDecoder().decode(Uint8Array.from(atob(encoded), (char) => char.charCodeAt(0)))).toBe(
        JSON.stringify(value),
      )
    }
  })

  test('error: invalid UTF-8, base64url and non-JSON decode to undefined', () => {
    expect(decodeBase64Json(btoa('\xff\xfe{}'))).toBeUndefined()
    expect(decodeBase64Json(encodeBase64Json({ a: '??>' }).replaceAll('+', '-').replaceAll('/', '_'))).toBeUndefined()
    expect(decodeBase64Json(btoa('not json'))).toBeUndefined()
  })
})
