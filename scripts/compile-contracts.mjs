// Compiles the test contracts with solc-js (wasm, no download) and writes the artifact the local
// stack loads at runtime. Run after editing contracts/*.sol: `node scripts/compile-contracts.mjs`.
import { readFileSync, writeFileSync } from 'node:fs'
import solc from 'solc'

const root = new URL('../', import.meta.url)
const sources = [
  'TestUSDC.sol',
  'MiniMulticall3.sol',
  'ISignatureTransfer.sol',
  'X402ExactPermit2Proxy.sol',
  'X402UptoPermit2Proxy.sol',
  'X402BatchSettlement.sol',
  'ERC3009DepositCollector.sol',
  'Permit2DepositCollector.sol',
]
const outFile = new URL('examples/local-stack/artifacts.json', root)

const input = {
  language: 'Solidity',
  sources: Object.fromEntries(
    sources.map((file) => [file, { content: readFileSync(new URL(`contracts/${file}`, root), 'utf8') }]),
  ),
  settings: {
    // anvil's default hardfork runs cancun bytecode; older targets are not needed.
    evmVersion: 'cancun',
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  },
}

const output = JSON.parse(solc.compile(JSON.stringify(input)))
const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
if (errors.length > 0) {
  for (const e of errors) console.error(e.formattedMessage)
  process.exit(1)
}

const testUsdc = output.contracts['TestUSDC.sol'].TestUSDC
const multicall = output.contracts['MiniMulticall3.sol'].MiniMulticall3
const runtime = (file, name) => {
  const contract = output.contracts[file][name]
  return { abi: contract.abi, deployedBytecode: `0x${contract.evm.deployedBytecode.object}` }
}
const artifacts = {
  // Deployed with its constructor, so the creation bytecode is what we need.
  TestUSDC: { abi: testUsdc.abi, bytecode: `0x${testUsdc.evm.bytecode.object}` },
  // Placed with anvil_setCode, which takes runtime code.
  MiniMulticall3: { abi: multicall.abi, deployedBytecode: `0x${multicall.evm.deployedBytecode.object}` },
  // The x402 Permit2 proxies keep no constructor state, so their runtime code is placed at the canonical addresses.
  X402ExactPermit2Proxy: runtime('X402ExactPermit2Proxy.sol', 'X402ExactPermit2Proxy'),
  X402UptoPermit2Proxy: runtime('X402UptoPermit2Proxy.sol', 'X402UptoPermit2Proxy'),
  // The batch-settlement channel contract and its two deposit collectors, stateless in the same way.
  X402BatchSettlement: runtime('X402BatchSettlement.sol', 'X402BatchSettlement'),
  ERC3009DepositCollector: runtime('ERC3009DepositCollector.sol', 'ERC3009DepositCollector'),
  Permit2DepositCollector: runtime('Permit2DepositCollector.sol', 'Permit2DepositCollector'),
}
writeFileSync(outFile, `${JSON.stringify(artifacts, null, 2)}\n`)
console.log(`wrote ${outFile.pathname} with solc ${solc.version()}`)
