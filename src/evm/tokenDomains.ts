/** An EIP-3009 token and its EIP-712 domain, for servers that do not name the domain (the `Payment` evm charge). */
export type EvmToken = {
  readonly chainId: number
  readonly address: string
  readonly name: string
  readonly version: string
}

// USDC's EIP-712 domain on the chains payfetch prices at par, as the x402 reference SDK's
// default-asset table and the tokens themselves (`name()`, `version()`) give it.
const usdc = (chainId: number, address: string, name = 'USD Coin'): EvmToken => ({
  chainId,
  address,
  name,
  version: '2',
})

/** EIP-3009 tokens whose domain payfetch knows. */
export const knownTokens: readonly EvmToken[] = [
  usdc(8453, '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913'),
  usdc(84532, '0x036CbD53842c5426634e7929541eC2318f3dCF7e', 'USDC'),
  usdc(1, '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48'),
  usdc(137, '0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359'),
  usdc(42161, '0xaf88d065e77c8cC2239327C5EDb3A432268e5831'),
  usdc(421614, '0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d'),
  usdc(43114, '0xB97EF9Ef8734C71904D8002F8b6Bc66Dd9c48a6E'),
  usdc(143, '0x754704Bc059F8C67012fEd69BC8A327a5aafb603', 'USDC'),
  usdc(1329, '0xe15fC38F6D8c56aF07bbCBe3BAf5708A2Bf42392', 'USDC'),
  usdc(1328, '0x4fCF1784B31630811181f670Aea7A7bEF803eaED', 'USDC'),
  usdc(42220, '0xcebA9300f2b948710d2653dD7B07f33A8B32118C', 'USDC'),
]

/** The domain of `token` on `chainId` among `tokens`; addresses compare case-insensitively. */
export function findTokenDomain(
  tokens: readonly EvmToken[],
  chainId: number,
  token: string,
): { name: string; version: string } | undefined {
  const found = tokens.find((entry) => entry.chainId === chainId && entry.address.toLowerCase() === token.toLowerCase())
  return found && { name: found.name, version: found.version }
}
