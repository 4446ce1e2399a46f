/**
 * The x402 `sign-in-with-x` challenge of one 402 (its `info`), read for shape only: every field is
 * the server's text as sent, to be checked (`checkSiwxChallenge`) before anything is signed.
 */
export type SiwxChallenge = {
  readonly domain: string
  readonly uri: string
  readonly version: string
  readonly nonce: string
  /** RFC 3339. */
  readonly issuedAt: string
  readonly expirationTime?: string | undefined
  readonly notBefore?: string | undefined
  readonly statement?: string | undefined
  readonly requestId?: string | undefined
  readonly resources?: readonly string[] | undefined
}

/** One entry of the extension's `supportedChains`: a CAIP-2 chain and its signature type (`eip191`, `ed25519`). */
export type SiwxChain = { readonly chainId: string; readonly type: string }
