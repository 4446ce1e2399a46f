import { solanaDevnet, solanaMainnet } from '../protocols/x402/networks.js'
import { bitcoinMainnet, bitcoinRegtest, bitcoinSignet, bitcoinTestnet } from './bitcoinNetworks.js'

/** An asset payfetch knows by network and id: its decimals, and whether it is worth one US dollar. */
export type KnownAsset = {
  readonly network: string
  readonly asset: string
  readonly decimals: number
  readonly symbol: string
  /** A stablecoin valued at par; other known assets need a caller's `rates` to be valued in USD. */
  readonly usdPar: boolean
}

// USDC on the networks the x402 reference SDK prices in by default (its default-asset table).
const usdc = (network: string, asset: string): KnownAsset => ({
  network,
  asset,
  decimals: 6,
  symbol: 'USDC',
  usdPar: true,
})

// pathUSD, Tempo's USD stablecoin: the TIP-20 predeployed at genesis at the same address on every
// Tempo chain, currency() "USD", 6 decimals, and Tempo's fallback fee token. Valued at par like USDC.
const pathUsd = (network: string): KnownAsset => ({
  network,
  asset: '0x20c0000000000000000000000000000000000000',
  decimals: 6,
  symbol: 'pathUSD',
  usdPar: true,
})

// Bitcoin over Lightning, counted in millisatoshis (10^11 per BTC), on the chains BOLT11 names.
const lightning = (network: string): KnownAsset => ({
  network,
  asset: 'BTC',
  decimals: 11,
  symbol: 'BTC',
  usdPar: false,
})

/** Assets known by network and id; everything else needs an explicit entry in `caps.assets`. */
export const knownAssets: readonly KnownAsset[] = [
  usdc('eip155:8453', '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913'),
  usdc('eip155:84532', '0x036CbD53842c5426634e7929541eC2318f3dCF7e'),
  usdc('eip155:1', '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48'),
  usdc('eip155:137', '0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359'),
  usdc('eip155:42161', '0xaf88d065e77c8cC2239327C5EDb3A432268e5831'),
  usdc('eip155:421614', '0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d'),
  usdc('eip155:43114', '0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E'),
  usdc('eip155:143', '0x754704Bc059F8C67012fEd69BC8A327a5aafb603'),
  usdc('eip155:1329', '0xe15fC38F6D8c56aF07bbCBe3BAf5708A2Bf42392'),
  usdc('eip155:1328', '0x4fCF1784B31630811181f670Aea7A7bEF803eaED'),
  usdc('eip155:42220', '0xcebA9300f2b948710d2653dD7B07f33A8B32118C'),
  usdc(solanaMainnet, 'EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v'),
  usdc(solanaDevnet, '4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU'),
  pathUsd('eip155:4217'), // Tempo mainnet
  pathUsd('eip155:42431'), // Tempo Moderato testnet
  lightning(bitcoinMainnet),
  lightning(bitcoinTestnet),
  lightning(bitcoinSignet),
  lightning(bitcoinRegtest),
]

/** EVM addresses compare case-insensitively; other asset ids exactly. */
export function sameAsset(network: string, a: string, b: string): boolean {
  return network.startsWith('eip155:') ? a.toLowerCase() === b.toLowerCase() : a === b
}

/** The known stablecoin for this network and asset, if any. */
export function findKnownAsset(network: string, asset: string): KnownAsset | undefined {
  return knownAssets.find((known) => known.network === network && sameAsset(network, known.asset, asset))
}
