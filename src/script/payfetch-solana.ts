/**
 * The script build for Solana pages: `dist/browser/payfetch-solana.js` and
 * `dist/browser/payfetch-solana.global.js` (also `window.payfetch`). The root entry, the `Payment`
 * scheme, the browser ledger and sessions, and `solana` with `walletAdapter`, with the parts of
 * `@solana/kit` they use inside. Apart from the EVM build because neither side needs the other's
 * chain library (viem's parts or kit's, each about 10–25 KiB gzip).
 *
 * @module
 */
export * from '../browser/index.js'
export * from '../index.js'
export * from '../payment/index.js'
export * from '../solana/index.js'
