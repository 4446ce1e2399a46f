import type { Address } from 'viem'
import { getAddress, toHex } from 'viem'
import type { Artifacts } from './artifacts.js'
import { loadArtifacts } from './artifacts.js'
import type { DevWallet, LocalClients } from './clients.js'
import {
  baseSepoliaUsdc,
  batchSettlement,
  erc3009DepositCollector,
  exactPermit2Proxy,
  multicall3,
  permit2DepositCollector,
  uptoPermit2Proxy,
} from './constants.js'
import { deployPermit2 } from './permit2.js'

/** An EIP-3009 token on the local chain, with the EIP-712 domain a payer must sign under. */
export type TestToken = {
  readonly address: Address
  /** EIP-712 domain name, as x402 puts it in `extra.name`. */
  readonly name: string
  /** EIP-712 domain version, as x402 puts it in `extra.version`. */
  readonly version: string
  readonly decimals: 6
}

export type InstalledContracts = {
  /** TestUSDC living at the real Base Sepolia USDC address: x402 sees its default asset. */
  readonly usdc: TestToken
  /** A second TestUSDC at an ordinary address, for allow-list tests. */
  readonly unknownToken: TestToken
}

/**
 * Deploys the two test tokens, makes the Base Sepolia USDC address behave as USDC, places
 * MiniMulticall3 at the canonical Multicall3 address, deploys Permit2 at its canonical address and
 * places the x402 `exact` and `upto` Permit2 proxies at theirs, and the `batch-settlement` channel
 * contract with its two deposit collectors at theirs.
 */
export async function installContracts(clients: LocalClients): Promise<InstalledContracts> {
  const { admin, testClient } = clients
  const artifacts = loadArtifacts()
  const [usdcTemplate, unknownToken] = await Promise.all([
    deployToken(admin, artifacts, 'USDC', '2'),
    deployToken(admin, artifacts, 'Test Token', '1'),
  ])
  await Promise.all([
    copyToken(clients, usdcTemplate.address, baseSepoliaUsdc),
    testClient.setCode({ address: multicall3, bytecode: artifacts.MiniMulticall3.deployedBytecode }),
    testClient.setCode({ address: exactPermit2Proxy, bytecode: artifacts.X402ExactPermit2Proxy.deployedBytecode }),
    testClient.setCode({ address: uptoPermit2Proxy, bytecode: artifacts.X402UptoPermit2Proxy.deployedBytecode }),
    testClient.setCode({ address: batchSettlement, bytecode: artifacts.X402BatchSettlement.deployedBytecode }),
    testClient.setCode({
      address: erc3009DepositCollector,
      bytecode: artifacts.ERC3009DepositCollector.deployedBytecode,
    }),
    testClient.setCode({
      address: permit2DepositCollector,
      bytecode: artifacts.Permit2DepositCollector.deployedBytecode,
    }),
    deployPermit2(clients),
  ])
  return { usdc: { ...usdcTemplate, address: getAddress(baseSepoliaUsdc) }, unknownToken }
}

/** Deploys one TestUSDC whose EIP-712 domain is `name`/`version`. */
export async function deployToken(
  admin: DevWallet,
  artifacts: Artifacts,
  name: string,
  version: string,
): Promise<TestToken> {
  const hash = await admin.deployContract({
    abi: artifacts.TestUSDC.abi,
    bytecode: artifacts.TestUSDC.bytecode,
    args: [name, version],
  })
  const { contractAddress, status } = await admin.waitForTransactionReceipt({ hash })
  if (status !== 'success' || !contractAddress) throw new Error(`deploying TestUSDC("${name}", "${version}") failed`)
  return { address: getAddress(contractAddress), name, version, decimals: 6 }
}

// Runtime code plus the `name` and `version` slots (0 and 1) are the token's whole identity; the
// EIP-712 domain is computed from address(this), so the copy signs and verifies as itself.
async function copyToken({ publicClient, testClient }: LocalClients, from: Address, to: Address) {
  const code = await publicClient.getCode({ address: from })
  if (!code) throw new Error(`no code at ${from}`)
  await testClient.setCode({ address: to, bytecode: code })
  for (const index of [0, 1]) {
    const value = await publicClient.getStorageAt({ address: from, slot: toHex(index, { size: 32 }) })
    await testClient.setStorageAt({ address: to, index, value: value ?? toHex(0, { size: 32 }) })
  }
}
