// Types for js-macaroon 3 (the `macaroon` package ships none): the parts the test L402 servers use.
declare module 'macaroon' {
  export type Macaroon = {
    readonly identifier: Uint8Array
    readonly location: string
    readonly signature: Uint8Array
    readonly caveats: readonly { identifier: Uint8Array; location?: string; vid?: Uint8Array }[]
    addFirstPartyCaveat(caveat: string | Uint8Array): void
    /** Throws when the signature or a caveat does not verify; `check` returns an error string or null. */
    verify(
      rootKey: Uint8Array | string,
      check: (condition: string) => string | null,
      discharges?: readonly Macaroon[],
    ): void
    exportBinary(): Uint8Array
    clone(): Macaroon
  }
  export function newMacaroon(options: {
    identifier: Uint8Array | string
    location?: string
    rootKey: Uint8Array | string
    version?: 1 | 2
  }): Macaroon
  export function importMacaroon(value: string | Uint8Array): Macaroon
}
