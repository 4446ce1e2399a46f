import { ed25519 } from '@noble/curves/ed25519'
import { p256 } from '@noble/curves/nist'
import { secp256k1 } from '@noble/curves/secp256k1'
import { keccak_256 } from '@noble/hashes/sha3'
import { base64ToBytes } from '../utils/base64.js'
import { isRecord } from '../utils/guards.js'

/** A public key of one of the curves the JWS algorithms name: uncompressed for EC, 32 bytes for Ed25519. */
export type PublicKey = { readonly curve: 'secp256k1' | 'P-256' | 'Ed25519'; readonly bytes: Uint8Array }

/** The curve each JWS algorithm signs on; others (`none`, HMAC, RSA) are not accepted. */
export const curveOf: Readonly<Record<string, PublicKey['curve']>> = {
  ES256K: 'secp256k1',
  ES256: 'P-256',
  EdDSA: 'Ed25519',
  Ed25519: 'Ed25519',
}

/** Bytes of unpadded or padded base64url; `undefined` for anything else. */
export function base64UrlBytes(text: unknown): Uint8Array | undefined {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return undefined
  const base64 = text.replaceAll('-', '+').replaceAll('_', '/').replace(/=+$/, '')
  try {
    return base64ToBytes(base64.padEnd(base64.length + ((4 - (base64.length % 4)) % 4), '='))
  } catch {
    return undefined
  }
}

/** The public key of a JWK (EC secp256k1 / P-256, OKP Ed25519), or why not. A private key is refused. */
export function keyOfJwk(jwk: unknown): PublicKey | string {
  if (!isRecord(jwk)) return 'the jwk is not an object'
  if (jwk.d !== undefined) return 'the jwk holds private key material'
  const x = base64UrlBytes(jwk.x)
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && x?.length === 32) return { curve: 'Ed25519', bytes: x }
  const y = base64UrlBytes(jwk.y)
  if (jwk.kty !== 'EC' || x?.length !== 32 || y?.length !== 32) return 'the jwk is not a supported public key'
  const curve = jwk.crv === 'secp256k1' ? 'secp256k1' : jwk.crv === 'P-256' ? 'P-256' : undefined
  if (!curve) return 'the jwk curve is not supported'
  const bytes = new Uint8Array(65)
  bytes[0] = 4
  bytes.set(x, 1)
  bytes.set(y, 33)
  return onCurve({ curve, bytes })
}

// did:key multicodec prefixes (unsigned varint): ed25519-pub 0xed, secp256k1-pub 0xe7, p256-pub 0x1200.
const multicodecs: readonly [number[], PublicKey['curve']][] = [
  [[0xed, 0x01], 'Ed25519'],
  [[0xe7, 0x01], 'secp256k1'],
  [[0x80, 0x24], 'P-256'],
]

/** The key of a multibase (`z`, base58btc) multicodec public key, as did:key and DID documents write it. */
export function keyOfMultibase(text: string): PublicKey | string {
  const bytes = text.startsWith('z') ? base58(text.slice(1)) : undefined
  if (!bytes) return 'the key is not base58btc multibase'
  for (const [prefix, curve] of multicodecs) {
    if (!prefix.every((byte, index) => bytes[index] === byte)) continue
    const key = bytes.subarray(prefix.length)
    if (curve === 'Ed25519') return key.length === 32 ? { curve, bytes: key } : 'the Ed25519 key is not 32 bytes'
    return onCurve({ curve, bytes: key })
  }
  return 'the key type is not supported'
}

/** An EC key made uncompressed once it is known to be a point of its curve. */
function onCurve(key: PublicKey): PublicKey | string {
  try {
    const curve = key.curve === 'secp256k1' ? secp256k1 : p256
    return { curve: key.curve, bytes: curve.ProjectivePoint.fromHex(key.bytes).toRawBytes(false) }
  } catch {
    return 'the key is not a point of its curve'
  }
}

/** Whether two keys are the same key. */
export function sameKey(a: PublicKey, b: PublicKey): boolean {
  return (
    a.curve === b.curve && a.bytes.length === b.bytes.length && a.bytes.every((byte, index) => byte === b.bytes[index])
  )
}

/** The EVM address (EIP-55) of an uncompressed secp256k1 key. */
export function addressOf(uncompressed: Uint8Array): string {
  const hex = bytesToHex(keccak_256(uncompressed.subarray(1)).subarray(12))
  const hash = bytesToHex(keccak_256(new TextEncoder().encode(hex)))
  let address = '0x'
  for (let index = 0; index < 40; index++)
    address += Number.parseInt(hash[index] as string, 16) >= 8 ? (hex[index] as string).toUpperCase() : hex[index]
  return address
}

export function bytesToHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
}

const alphabet = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

function base58(text: string): Uint8Array | undefined {
  if (text.length === 0 || text.length > 128) return undefined
  let value = 0n
  for (const char of text) {
    const digit = alphabet.indexOf(char)
    if (digit < 0) return undefined
    value = value * 58n + BigInt(digit)
  }
  const bytes: number[] = []
  for (; value > 0n; value >>= 8n) bytes.unshift(Number(value & 0xffn))
  // Each leading '1' is a leading zero byte.
  for (let index = 0; text[index] === '1'; index++) bytes.unshift(0)
  return Uint8Array.from(bytes)
}

export { ed25519, p256, secp256k1 }
