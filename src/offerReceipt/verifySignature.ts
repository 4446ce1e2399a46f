import { sha256 } from '@noble/hashes/sha2'
import { keccak_256 } from '@noble/hashes/sha3'
import { addressOf, base64UrlBytes, curveOf, ed25519, type PublicKey, p256, sameKey, secp256k1 } from './publicKey.js'
import type { OfferPayload, ReceiptPayload, SignedArtifact } from './signedArtifact.js'

/** Who signed, as far as the signature alone proves it. */
export type SignatureOwner = {
  /** The EVM address of the key (EIP-712 recovery, or a secp256k1 JWS key). */
  readonly address?: string | undefined
  /** The key that verified a JWS. */
  readonly key?: PublicKey | undefined
}

// The canonical schemas of the extension (not sent on the wire); the domain is fixed at chain 1.
const offerType =
  'Offer(uint256 version,string resourceUrl,string scheme,string network,string asset,string payTo,string amount,uint256 validUntil)'
const receiptType =
  'Receipt(uint256 version,string network,string resourceUrl,string payer,uint256 issuedAt,string transaction)'
const domainType = 'EIP712Domain(string name,string version,uint256 chainId)'

/**
 * The EIP-712 digest of a signed offer or receipt: domain `{ name: "x402 offer" | "x402 receipt",
 * version: "1", chainId: 1 }`, the payload exactly as sent, unused optional fields as `0` / `""`.
 */
export function eip712Digest(kind: 'offer' | 'receipt', payload: OfferPayload | ReceiptPayload): Uint8Array {
  const fields =
    kind === 'offer'
      ? (({ version, resourceUrl, scheme, network, asset, payTo, amount, validUntil }: OfferPayload) => [
          offerType,
          version,
          resourceUrl,
          scheme,
          network,
          asset,
          payTo,
          amount,
          validUntil ?? 0,
        ])(payload as OfferPayload)
      : (({ version, network, resourceUrl, payer, issuedAt, transaction }: ReceiptPayload) => [
          receiptType,
          version,
          network,
          resourceUrl,
          payer,
          issuedAt,
          transaction ?? '',
        ])(payload as ReceiptPayload)
  const domain = structHash([domainType, `x402 ${kind}`, '1', 1])
  const message = structHash(fields)
  return keccak_256(concat([Uint8Array.of(0x19, 0x01), domain, message]))
}

// typeHash ‖ each field: strings as the hash of their UTF-8, integers as 32-byte big-endian words.
function structHash([type, ...values]: readonly (string | number)[]): Uint8Array {
  return keccak_256(
    concat([
      text(type as string),
      ...values.map((value) => (typeof value === 'string' ? text(value) : word(BigInt(value)))),
    ]),
  )
}

const text = (value: string) => keccak_256(new TextEncoder().encode(value))

function word(value: bigint): Uint8Array {
  const bytes = new Uint8Array(32)
  for (let index = 31; index >= 0 && value > 0n; index--, value >>= 8n) bytes[index] = Number(value & 0xffn)
  return bytes
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** The address that signed an EIP-712 artifact, or why none could be recovered. */
export function recoverEip712(kind: 'offer' | 'receipt', artifact: SignedArtifact<unknown>): SignatureOwner | string {
  const bytes = hexBytes(artifact.signature.slice(2))
  const v = bytes[64] as number
  const bit = v >= 27 ? v - 27 : v
  if (bit !== 0 && bit !== 1) return 'the signature has no valid recovery id'
  try {
    const point = secp256k1.Signature.fromCompact(bytes.subarray(0, 64))
      .addRecoveryBit(bit)
      .recoverPublicKey(eip712Digest(kind, artifact.payload as OfferPayload))
    return { address: addressOf(point.toRawBytes(false)) }
  } catch {
    return 'the signature does not recover to a key'
  }
}

/**
 * Checks a JWS against `key` (from its header's `jwk` or its `kid`), or, with no key but an EVM
 * address to match (`did:pkh`), recovers the ES256K key and requires it to be that address.
 */
export function verifyJws(
  artifact: SignedArtifact<unknown>,
  key: PublicKey | { readonly address: string },
): SignatureOwner | string {
  const alg = artifact.header?.alg ?? ''
  const curve = curveOf[alg]
  if (!curve) return `the JWS algorithm ${JSON.stringify(alg)} is not accepted`
  const [head, body, sig] = artifact.signature.split('.') as [string, string, string]
  const input = new TextEncoder().encode(`${head}.${body}`)
  const signature = base64UrlBytes(sig)
  if (signature?.length !== 64) return 'the JWS signature is not 64 bytes'
  try {
    if ('address' in key) {
      if (curve !== 'secp256k1') return 'a did:pkh key signs with ES256K'
      const parsed = secp256k1.Signature.fromCompact(signature)
      const digest = sha256(input)
      for (const bit of [0, 1]) {
        const bytes = parsed.addRecoveryBit(bit).recoverPublicKey(digest).toRawBytes(false)
        if (addressOf(bytes).toLowerCase() === key.address.toLowerCase())
          return { address: addressOf(bytes), key: { curve, bytes } }
      }
      return 'the JWS was not signed by the did:pkh address'
    }
    if (key.curve !== curve) return `the key is not a ${curve} key, as ${alg} needs`
    const valid =
      curve === 'Ed25519'
        ? ed25519.verify(signature, input, key.bytes)
        : (curve === 'secp256k1' ? secp256k1 : p256).verify(signature, sha256(input), key.bytes, {
            lowS: false,
            prehash: false,
          })
    if (!valid) return 'the JWS signature does not verify'
    return { key, address: curve === 'secp256k1' ? addressOf(key.bytes) : undefined }
  } catch {
    return 'the JWS signature does not verify'
  }
}

export { sameKey }

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16))
}
