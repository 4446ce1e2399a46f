import { describe, expect, test } from 'vitest'
import { textOf } from '../../src/utils/guards.js'

describe('textOf', () => {
  test('behavior: strings stay, numbers, booleans and bigints print, anything else is empty', () => {
    expect(textOf('insufficient balance')).toBe('insufficient balance')
    expect(textOf(-32602)).toBe('-32602')
    expect(textOf(false)).toBe('false')
    expect(textOf(7n)).toBe('7')
    for (const other of [undefined, null, {}, [], ['a'], Symbol('s')]) expect(textOf(other)).toBe('')
  })

  test('policy: a value whose own toString throws or is not callable (parsed JSON can name one) is never called', () => {
    const throwing = {
      toString() {
        throw new Error('called')
      },
    }
    expect(textOf(throwing)).toBe('')
    expect(textOf(JSON.parse('{"toString":null,"valueOf":1}'))).toBe('')
  })
})
