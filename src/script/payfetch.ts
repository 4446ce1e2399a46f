/**
 * The script build for EVM and Lightning pages: `dist/browser/payfetch.js` (one ES module) and
 * `dist/browser/payfetch.global.js` (a `<script>` that sets `window.payfetch`), with their
 * dependencies inside (viem's signing parts, noble). The root entry, the `Payment` scheme, the
 * browser ledger and sessions, `evm` with `eip1193`, and the Lightning signer with `webln`. The
 * wallets that hold server credentials (`lnd`, `coreLightning`, `lnbits`) and `nwc`, whose
 * nostr-tools would add about 23 KiB gzip, stay in the npm entries: a page reaches an NWC wallet
 * through a WebLN provider (Alby's Bitcoin Connect is one).
 *
 * @module
 */
export * from '../browser/index.js'
// Everything of payfetch/evm but batch-settlement channels (about 10 KiB gzip with viem's signature
// recovery): a page that pays channels bundles payfetch/evm itself.
export {
  type Eip1193Options,
  type Eip1193Provider,
  type EvmAccount,
  type EvmChainReader,
  type EvmOptions,
  type EvmToken,
  type EvmWalletClient,
  eip1193,
  evm,
  type Permit2AllowanceOptions,
  type Permit2Approval,
  permit2Address,
  permit2Proxies,
} from '../evm/index.js'
export * from '../index.js'
export {
  type AuthChallenge,
  decodeL402,
  type LightningNetwork,
  type LightningOptions,
  type LightningWallet,
  l402,
  lightning,
  type PaidInvoice,
  type PayInvoiceOptions,
  parseWwwAuthenticate,
  type WebLNProvider,
  webln,
} from '../lightning/index.js'
export * from '../payment/index.js'
