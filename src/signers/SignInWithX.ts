/**
 * How a signer signs in to an x402 server it paid before (the `sign-in-with-x` extension: SIWE for
 * `evm()`, SIWS later for `solana()`). The loop keeps entitlements and sends the headers; reading
 * the extension, checking the challenge and building the message live in the signer's subpath, so
 * an app that never signs in bundles none of them.
 */
export type SignInWithX = {
  /** The address that signs in: an entitlement paid by this address may use this signer. */
  readonly address: string
  /**
   * Whether a paid x402 v2 message's `extensions` offer sign-in-with-x, so the payment is worth
   * keeping as an entitlement.
   */
  offersSignIn(extensions: unknown): boolean
  /**
   * Checks the challenge a 402's `extensions` carry and signs it: the headers that sign in, a
   * sentence saying which check refused it (nothing signed; the call pays as usual), or `undefined`
   * when the 402 offers no sign-in-with-x.
   */
  signIn(request: SiwxRequest): Promise<SiwxAccess | string | undefined>
}

/** What the loop asks a signer to sign in for. */
export type SiwxRequest = {
  /** The x402 v2 message's `extensions`, as the server sent them. */
  readonly extensions: unknown
  /** The URL that answered 402 (after redirects): the only origin a signature may be for. */
  readonly url: string
  /** The CAIP-2 network the entitlement was paid on: preferred when the server supports it. */
  readonly network?: string | undefined
  readonly signal?: AbortSignal | undefined
}

/** A signed sign-in: the request headers that carry it (`SIGN-IN-WITH-X`), who signed, on which chain. */
export type SiwxAccess = {
  readonly headers: Readonly<Record<string, string>>
  readonly address: string
  /** CAIP-2. */
  readonly chainId: string
}
