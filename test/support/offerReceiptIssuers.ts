import { generateKeyPairSync, type JsonWebKey, type KeyObject, sign } from 'node:crypto'
import type { JWSSigner, SignTypedDataFn } from '@x402/extensions/offer-receipt'
import type { PrivateKeyAccount } from 'viem/accounts'

/** A JWS algorithm the reference signers are used with, and the node:crypto key type behind it. */
export type JwsAlgorithm = 'ES256K' | 'ES256' | 'EdDSA'

/** A key pair for one JWS algorithm, its public JWK, and a reference `JWSSigner` over it with `kid`. */
export type JwsKey = {
  readonly algorithm: JwsAlgorithm
  readonly jwk: JsonWebKey
  readonly privateKey: KeyObject
  signer(kid: string): JWSSigner
}

/**
 * A fresh key whose signatures come from node:crypto (OpenSSL), not from the code under test:
 * ES256K and ES256 as raw r ‖ s (`ieee-p1363`, what JWS wants), EdDSA as Ed25519.
 */
export function jwsKey(algorithm: JwsAlgorithm): JwsKey {
  const { privateKey, publicKey } =
    algorithm === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: algorithm === 'ES256K' ? 'secp256k1' : 'prime256v1' })
  const jwk = publicKey.export({ format: 'jwk' })
  return {
    algorithm,
    jwk,
    privateKey,
    signer: (kid) => ({
      kid,
      format: 'jws',
      algorithm,
      async sign(payload) {
        const signature =
          algorithm === 'EdDSA'
            ? sign(null, payload, privateKey)
            : sign('sha256', payload, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        return signature.toString('base64url')
      },
    }),
  }
}

/** `did:jwk` of a public JWK. */
export function didJwk(jwk: JsonWebKey): string {
  return `did:jwk:${Buffer.from(JSON.stringify(jwk)).toString('base64url')}`
}

/** The reference EIP-712 signing function over a viem account. */
export function typedDataSigner(account: PrivateKeyAccount): SignTypedDataFn {
  return (params) => account.signTypedData(params as Parameters<PrivateKeyAccount['signTypedData']>[0])
}
