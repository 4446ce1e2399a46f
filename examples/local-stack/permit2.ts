import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join, sep } from 'node:path'
import type { Address, Hex } from 'viem'
import { concat, getAddress } from 'viem'
import type { LocalClients } from './clients.js'

/** Uniswap Permit2, at the same address on every chain. */
export const permit2Address: Address = '0x000000000022D473030F116dDEE9F6B43aC78BA3'

/** The CREATE2 deployer anvil ships at genesis (Arachnid's deterministic-deployment proxy). */
const create2Deployer: Address = '0x4e59b44847b379578588920ca78fbf26c0b4956c'

/** The salt Uniswap deployed Permit2 with: CREATE2 from the deployer with it lands on `permit2Address`. */
const permit2Salt: Hex = '0x0000000000000000000000000000000000000000d3af2663da51c10215000000'

/**
 * Deploys Permit2 at its canonical address from the creation bytecode `@uniswap/uniswapx-sdk` ships
 * (read as text: loading the module would load ethers). It must be a real deployment, not copied
 * code: Permit2 caches its EIP-712 domain, `address(this)` included, in its constructor.
 */
export async function deployPermit2({ admin, publicClient }: LocalClients): Promise<void> {
  if (await publicClient.getCode({ address: permit2Address })) return
  const hash = await admin.sendTransaction({ to: create2Deployer, data: concat([permit2Salt, permit2CreationCode()]) })
  const receipt = await publicClient.waitForTransactionReceipt({ hash })
  const code = await publicClient.getCode({ address: permit2Address })
  if (receipt.status !== 'success' || !code) throw new Error('Permit2 did not land at its canonical address')
}

function permit2CreationCode(): Hex {
  const require = createRequire(import.meta.url)
  // The package exports no package.json; its entry point lives under dist/.
  const entry = require.resolve('@uniswap/uniswapx-sdk')
  const root = entry.slice(0, entry.lastIndexOf(`${sep}dist${sep}`))
  const factory = readFileSync(join(root, 'dist/esm/src/contracts/factories/Permit2__factory.js'), 'utf8')
  const bytecode = /_bytecode = "(0x[0-9a-f]+)"/.exec(factory)?.[1]
  if (!bytecode) throw new Error('no Permit2 bytecode in @uniswap/uniswapx-sdk')
  return bytecode as Hex
}

/** Checksummed, for comparisons in tests. */
export const permit2 = getAddress(permit2Address)
