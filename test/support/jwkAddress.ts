import type { JsonWebKey } from 'node:crypto'
import type { Hex } from 'viem'
import { publicKeyToAddress } from 'viem/accounts'

/** The EVM address of a secp256k1 public JWK, by viem (not by the code under test). */
export function addressOfJwk(jwk: JsonWebKey): `0x${string}` {
  const hex = (part: string | undefined) => Buffer.from(part ?? '', 'base64url').toString('hex')
  return publicKeyToAddress(`0x04${hex(jwk.x)}${hex(jwk.y)}` as Hex)
}
