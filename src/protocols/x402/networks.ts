/** CAIP-2 ids of Solana clusters, as x402 v2 names them. */
export const solanaMainnet = 'solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp'
export const solanaDevnet = 'solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1'
export const solanaTestnet = 'solana:4uhcVJyU9pJkvQyS88uRDiswHXSCkY3z'

// x402 v1 names a closed set of networks; v2 uses CAIP-2. Chain ids from the v1 specification's
// network list and the reference SDK's v1 compatibility map.
const evmChainIds: Record<string, number> = {
  ethereum: 1,
  sepolia: 11155111,
  base: 8453,
  'base-sepolia': 84532,
  polygon: 137,
  'polygon-amoy': 80002,
  avalanche: 43114,
  'avalanche-fuji': 43113,
  abstract: 2741,
  'abstract-testnet': 11124,
  iotex: 4689,
  sei: 1329,
  'sei-testnet': 1328,
  peaq: 3338,
  story: 1514,
  educhain: 41923,
  'skale-base-sepolia': 324705682,
  megaeth: 4326,
  monad: 143,
  stable: 988,
  'stable-testnet': 2201,
  celo: 42220,
  flare: 14,
}

const solanaClusters: Record<string, string> = {
  solana: solanaMainnet,
  'solana-devnet': solanaDevnet,
  'solana-testnet': solanaTestnet,
}

const caip2Pattern = /^[-a-z0-9]{3,8}:[-_a-zA-Z0-9]{1,32}$/

/** Whether `network` is a syntactically valid CAIP-2 chain id. */
export function isCaip2(network: string): boolean {
  return caip2Pattern.test(network)
}

/** The CAIP-2 id for an x402 v1 network name (or a CAIP-2 id passed through), else `undefined`. */
export function networkFromV1(name: string): string | undefined {
  if (Object.hasOwn(evmChainIds, name)) return `eip155:${evmChainIds[name]}`
  if (Object.hasOwn(solanaClusters, name)) return solanaClusters[name]
  return isCaip2(name) ? name : undefined
}
