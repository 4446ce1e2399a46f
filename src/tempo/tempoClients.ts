import { type Chain, type Client, createClient, http, type Transport } from 'viem'
import { tempoDevnet, tempoLocalnet, tempoMainnet, tempoModerato } from 'viem/tempo/chains'

/** A viem client on a Tempo chain, e.g. `createClient({ chain: tempoModerato, transport: http(url) })`. */
export type TempoClient = Client<Transport, Chain | undefined>

// viem's Tempo chains: their formatters and serializer make a transaction a Tempo transaction (0x76).
const knownChains: readonly Chain[] = [tempoMainnet, tempoModerato, tempoDevnet, tempoLocalnet]
// The chains whose public RPC payfetch uses when the caller names none.
const publicRpcChainIds: readonly number[] = [tempoMainnet.id, tempoModerato.id]

/**
 * One client per chain id this signer pays on: the caller's client, a client for the caller's RPC
 * URL, or the chain's public RPC. A sentence when `rpc` and the chain ids do not fit together.
 */
export function tempoClients(
  rpc: TempoClient | string | undefined,
  chainIds: readonly number[],
): ((chainId: number) => TempoClient) | string {
  if (typeof rpc === 'object' && rpc !== null) {
    const chainId = rpc.chain?.id
    if (typeof rpc.request !== 'function' || chainId === undefined)
      return 'rpc must be a viem Client with a chain (createClient({ chain, transport }))'
    // Only a Tempo chain definition serializes Tempo transactions (a plain EVM chain has no serializer).
    if (!rpc.chain?.serializers?.transaction)
      return "the client's chain is not a Tempo chain: build it from viem/tempo/chains or Tempo's chainConfig"
    if (chainIds.length !== 1 || chainIds[0] !== chainId)
      return `the client is on eip155:${chainId}: networks must be ['eip155:${chainId}']`
    return () => rpc
  }
  if (typeof rpc === 'string') {
    if (!/^https?:\/\//i.test(rpc)) return 'rpc must be an http(s) URL or a viem Client'
    if (chainIds.length !== 1) return 'an rpc URL serves one chain: networks must name exactly one'
    const chain = knownChains.find((known) => known.id === chainIds[0])
    if (!chain) return `viem knows no Tempo chain eip155:${chainIds[0]}: pass rpc as a viem Client with your Chain`
    const client = createClient({ chain, transport: http(rpc) })
    return () => client
  }
  if (rpc !== undefined) return 'rpc must be an http(s) URL or a viem Client'
  const unserved = chainIds.find((chainId) => !publicRpcChainIds.includes(chainId))
  if (unserved !== undefined) return `eip155:${unserved} has no public RPC payfetch knows: pass rpc`
  const clients = new Map<number, TempoClient>()
  return (chainId) => {
    let client = clients.get(chainId)
    if (!client) {
      const chain = knownChains.find((known) => known.id === chainId) as Chain
      client = createClient({ chain, transport: http() })
      clients.set(chainId, client)
    }
    return client
  }
}
