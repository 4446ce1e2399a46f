import type { Eip1193Provider } from '../../src/evm/eip1193.js'
import type { WebLNProvider } from '../../src/lightning/webln.js'

/** The script build for EVM and Lightning pages, as `window.payfetch` or its ES module. */
export type ScriptBuild = typeof import('../../src/script/payfetch.js')
/** The script build for Solana pages. */
export type SolanaScriptBuild = typeof import('../../src/script/payfetch-solana.js')

/** What a test page has on `window`: the script build under test and the injected wallets. */
export type PageWindow = Window & {
  payfetch: ScriptBuild
  ethereum: Eip1193Provider
  webln: WebLNProvider
}
