// Compiles the test contracts with solc-js (wasm, no download) and writes the artifact the local
// stack loads at runtime. Run after editing contracts/*.sol: `node scripts/compile-contracts.mjs`.
import { readFileSync, writeFileSync } from 'node:fs'
import solc from 'solc'

const root = new URL('../', import.meta.url)
const sources = ['TestUSDC.sol', 'MiniMulticall3.sol']
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
const artifacts = {
  // Deployed with its constructor, so the creation bytecode is what we need.
  TestUSDC: { abi: testUsdc.abi, bytecode: `0x${testUsdc.evm.bytecode.object}` },
  // Placed with anvil_setCode, which takes runtime code.
  MiniMulticall3: { abi: multicall.abi, deployedBytecode: `0x${multicall.evm.deployedBytecode.object}` },
}
writeFileSync(outFile, `${JSON.stringify(artifacts, null, 2)}\n`)
console.log(`wrote ${outFile.pathname} with solc ${solc.version()}`)
