import {
  concat,
  getTypesForEIP712Domain,
  type Hex,
  hashDomain,
  hashTypedData,
  isAddress,
  keccak256,
  stringToHex,
} from 'viem'
import type { TypedDataRequest } from './account.js'

type Field = { readonly name: string; readonly type: string }

// A paying process signs for a few tokens over and over: their domain separators and type hashes
// are worked out once. Both are bounded (a server names the domain).
const separators = new Map<string, Hex>()
const typeHashes = new WeakMap<object, Map<string, Hex>>()
const maxSeparators = 64

/**
 * The EIP-712 digest of `request`, equal to viem's `hashTypedData`. A primary type whose fields are
 * all static words (addresses, unsigned integers, `bytes32`, booleans: EIP-3009's authorization) is
 * encoded here, with the domain separator and type hash kept from earlier calls; anything else,
 * and any value viem would refuse, goes through `hashTypedData` itself, which validates and throws
 * as when signing.
 */
export function typedDataDigest(request: TypedDataRequest): Hex {
  const { domain, types, primaryType, message } = request as unknown as {
    domain?: Record<string, unknown>
    types: Record<string, readonly Field[]>
    primaryType: string
    message: Record<string, unknown>
  }
  // A caller's own EIP712Domain type decides the domain's encoding: viem's to follow.
  const fields = types.EIP712Domain ? undefined : types[primaryType]
  const words = domain && fields && encodeWords(fields, message)
  const key = words && JSON.stringify(domain, (_, value) => (typeof value === 'bigint' ? `${value}n` : value))
  const separator = key && separators.get(key)
  if (!separator || !fields || !words) {
    // The first time a domain is seen it is validated by viem along with everything else.
    const digest = hashTypedData(request)
    if (key && domain) {
      if (separators.size >= maxSeparators) separators.clear()
      separators.set(
        key,
        hashDomain({ domain: domain as never, types: { EIP712Domain: getTypesForEIP712Domain({ domain }) } }),
      )
    }
    return digest
  }
  const struct = keccak256(`${typeHashOf(types, primaryType, fields)}${words}`)
  return keccak256(concat(['0x1901', separator, struct]))
}

function typeHashOf(types: object, primaryType: string, fields: readonly Field[]): Hex {
  let byType = typeHashes.get(types)
  if (!byType) {
    byType = new Map()
    typeHashes.set(types, byType)
  }
  let hash = byType.get(primaryType)
  if (!hash) {
    // No field names another struct (encodeWords took only static words): the type is its own encoding.
    hash = keccak256(stringToHex(`${primaryType}(${fields.map(({ type, name }) => `${type} ${name}`).join(',')})`))
    byType.set(primaryType, hash)
  }
  return hash
}

const uintType = /^uint([1-9]\d{0,2})$/
const bytes32 = /^0x[0-9a-fA-F]{64}$/

/** The fields as 32-byte words, without `0x`; `undefined` when one is not a static word viem would accept. */
function encodeWords(fields: readonly Field[], message: Record<string, unknown>): string | undefined {
  let words = ''
  for (const { name, type } of fields) {
    const value = message[name]
    let word: string | undefined
    if (type === 'address') {
      if (typeof value === 'string' && isAddress(value)) word = value.slice(2).toLowerCase().padStart(64, '0')
    } else if (type === 'bytes32') {
      if (typeof value === 'string' && bytes32.test(value)) word = value.slice(2).toLowerCase()
    } else if (type === 'bool') {
      if (typeof value === 'boolean') word = value ? '1'.padStart(64, '0') : '0'.repeat(64)
    } else {
      const bits = Number(uintType.exec(type)?.[1])
      const number = typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value
      const sized = bits >= 8 && bits <= 256 && bits % 8 === 0
      if (sized && typeof number === 'bigint' && number >= 0n && number < 1n << BigInt(bits))
        word = number.toString(16).padStart(64, '0')
    }
    if (word === undefined) return undefined
    words += word
  }
  return words
}
