import { bitcoinMainnet, bitcoinRegtest, bitcoinSignet, bitcoinTestnet } from '../../caps/bitcoinNetworks.js'

/** A Lightning network by name. */
export type LightningNetwork = 'mainnet' | 'testnet' | 'signet' | 'regtest'

/** The CAIP-2 id of each Bitcoin network Lightning invoices are issued on. */
export const lightningNetworks: Readonly<Record<LightningNetwork, string>> = {
  mainnet: bitcoinMainnet,
  testnet: bitcoinTestnet,
  signet: bitcoinSignet,
  regtest: bitcoinRegtest,
}

/** The BOLT11 currency prefix of each network (`lnbc…`, `lntb…`, `lntbs…`, `lnbcrt…`). */
export const invoicePrefixes: Readonly<Record<string, LightningNetwork>> = {
  bc: 'mainnet',
  tb: 'testnet',
  tbs: 'signet',
  bcrt: 'regtest',
}
