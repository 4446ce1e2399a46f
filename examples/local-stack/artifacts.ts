import { readFileSync } from 'node:fs'
import type { Abi, Hex } from 'viem'

/** Output of `scripts/compile-contracts.mjs`, committed so nothing compiles at test time. */
export type Artifacts = {
  readonly TestUSDC: { readonly abi: Abi; readonly bytecode: Hex }
  readonly MiniMulticall3: { readonly abi: Abi; readonly deployedBytecode: Hex }
  readonly X402ExactPermit2Proxy: { readonly abi: Abi; readonly deployedBytecode: Hex }
  readonly X402UptoPermit2Proxy: { readonly abi: Abi; readonly deployedBytecode: Hex }
  readonly X402BatchSettlement: { readonly abi: Abi; readonly deployedBytecode: Hex }
  readonly ERC3009DepositCollector: { readonly abi: Abi; readonly deployedBytecode: Hex }
  readonly Permit2DepositCollector: { readonly abi: Abi; readonly deployedBytecode: Hex }
}

/** Reads `artifacts.json` beside this file. */
export function loadArtifacts(): Artifacts {
  return JSON.parse(readFileSync(new URL('./artifacts.json', import.meta.url), 'utf8')) as Artifacts
}
