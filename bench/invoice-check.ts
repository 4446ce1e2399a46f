// One BOLT11 invoice check, before and after: bolt11.decode (what payfetch/lightning ran until
// now, signature included) against verifyInvoiceSignature (noble secp256k1), on the same signed
// invoices, one call at a time, the checks taking turns to go first each round. The noble check
// runs four ways: the payee's key not remembered (a first invoice from it: the full check),
// remembered once (a second invoice: the full check, then its table built), not remembered while
// three other keys are (the most a miss tries first), and remembered with its table (a payee checked before).
//
//   npx tsx bench/invoice-check.ts                 (writes bench/invoice-check.md, keeps its '## Notes')
//   BENCH_ROUNDS=10 npx tsx bench/invoice-check.ts
import { readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { cpus, loadavg, totalmem } from 'node:os'
import { secp256k1 } from '@noble/curves/secp256k1'
import { decode } from 'bolt11'
import { bolt11Networks } from '../examples/local-stack/lightningNode.js'
import { type PayeeKey, PayeeKeys } from '../src/lightning/PayeeKeys.js'
import { verifyInvoiceSignature } from '../src/lightning/verifyInvoiceSignature.js'
import { invoiceCorpus, type SignedInvoice } from '../test/support/invoiceCorpus.js'

const rounds = Number(process.env.BENCH_ROUNDS ?? 30)
const warmupRounds = 3
const reportFile = new URL('./invoice-check.md', import.meta.url)
const require = createRequire(import.meta.url)

/**
 * A second copy of bolt11 whose secp256k1 is that package's pure-JS fallback (elliptic): what
 * bolt11 runs where no native binary fits. Only this copy sees the fallback.
 */
function bolt11WithoutNative(): typeof decode {
  const loader = require('node:module') as {
    _resolveFilename: (request: string, parent: { filename?: string } | undefined, ...rest: unknown[]) => string
  }
  const resolve = loader._resolveFilename
  const entry = require.resolve('bolt11')
  const secp256k1 = createRequire(entry).resolve('secp256k1')
  // Both out of the module cache for the time of the load, so neither is reused as it is.
  const cached = [entry, secp256k1].map((path) => [path, require.cache[path]] as const)
  loader._resolveFilename = function (request, parent, ...rest) {
    const fromBolt11 = request === 'secp256k1' && parent?.filename === entry
    return resolve.call(this, fromBolt11 ? 'secp256k1/elliptic' : request, parent, ...rest)
  }
  try {
    for (const [path] of cached) delete require.cache[path]
    return (require('bolt11') as { decode: typeof decode }).decode
  } finally {
    loader._resolveFilename = resolve
    for (const [path, module] of cached) if (module) require.cache[path] = module
  }
}
const decodeWithoutNative = bolt11WithoutNative()
const native = (() => {
  try {
    createRequire(require.resolve('bolt11'))('secp256k1/bindings')
    return 'its native libsecp256k1 binding (prebuilt)'
  } catch {
    return 'the pure-JS fallback (no native binding loads here)'
  }
})()

// Invoices both checks accept: every network and multiplier, with and without `n`, long and
// hashed descriptions, routing hints (the corpus of test/lightning, less the amountless ones).
const invoices = invoiceCorpus().filter(({ name }) => !name.includes('amountless'))

/** Three other nodes' keys, always tried first and never replaced: a miss at its dearest. */
class OthersFirst extends PayeeKeys {
  private readonly others: readonly PayeeKey[]
  constructor() {
    super(3)
    // Twice each: a key gets its table the second time it signs.
    for (const index of [1, 2, 3, 1, 2, 3])
      super.remember(secp256k1.ProjectivePoint.BASE.multiply(BigInt(9000 + index)).toHex(true))
    this.others = super.recent
  }
  override get recent(): readonly PayeeKey[] {
    return this.others
  }
  override remember(): void {}
}
const othersFirst = new OthersFirst()
const remembered = new PayeeKeys()
const payeeOf = (verified: ReturnType<typeof verifyInvoiceSignature>) =>
  typeof verified === 'string' ? undefined : verified.payee
const checks: Record<string, (one: SignedInvoice) => string | undefined> = {
  'bolt11.decode (before)': ({ invoice, network }) => decode(invoice, bolt11Networks[network]).payeeNodeKey,
  'bolt11.decode, secp256k1 pure-JS fallback': ({ invoice, network }) =>
    decodeWithoutNative(invoice, bolt11Networks[network]).payeeNodeKey,
  'verifyInvoiceSignature, first invoice from a payee': ({ invoice }) =>
    payeeOf(verifyInvoiceSignature(invoice, new PayeeKeys())),
  'verifyInvoiceSignature, second invoice from a payee (its table built)': ({ invoice, signer }) => {
    const keys = new PayeeKeys()
    keys.remember(signer)
    return payeeOf(verifyInvoiceSignature(invoice, keys))
  },
  '… a first invoice, 3 other payees remembered': ({ invoice }) =>
    payeeOf(verifyInvoiceSignature(invoice, othersFirst)),
  'verifyInvoiceSignature, a payee checked before': ({ invoice }) =>
    payeeOf(verifyInvoiceSignature(invoice, remembered)),
}
const names = Object.keys(checks)

// The first call in the process (tables built, code compiled), then agreement on every invoice:
// the timings must compare the same work.
const firstCall: Record<string, number> = {}
for (const name of names) {
  const started = performance.now()
  checks[name]?.(invoices[0] as SignedInvoice)
  firstCall[name] = performance.now() - started
}
for (const one of invoices)
  for (const name of names)
    if (checks[name]?.(one) !== one.signer) throw new Error(`${name} does not name the signer of ${one.name}`)

const loadAtStart = loadavg()[0] ?? 0
// Wall time, and the CPU time this process spent (which other processes on a shared machine
// cannot add waiting to).
const wall: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
const cpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]))
for (let round = 0; round < warmupRounds + rounds; round++) {
  const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)]
  for (const one of invoices)
    for (const name of order) {
      const cpuStart = process.cpuUsage()
      const started = performance.now()
      checks[name]?.(one)
      const elapsed = performance.now() - started
      const { user, system } = process.cpuUsage(cpuStart)
      if (round < warmupRounds) continue
      wall[name]?.push(elapsed)
      cpu[name]?.push((user + system) / 1000)
    }
}

// The one-time part of a second invoice from a payee: its point read and its table built.
const signers = [...new Set(invoices.map(({ signer }) => signer))]
const tableCpu: number[] = []
for (let build = 0; build < rounds + warmupRounds; build++) {
  const keys = new PayeeKeys()
  const signer = signers[build % signers.length] as string
  keys.remember(signer)
  // Met again: now its table is built.
  const cpuStart = process.cpuUsage()
  keys.remember(signer)
  const { user, system } = process.cpuUsage(cpuStart)
  if (build >= warmupRounds) tableCpu.push((user + system) / 1000)
}

/** A Markdown table laid out as the formatter lays it out: first column left, the others right. */
function table(header: string[], body: string[][]): string[] {
  const widths = header.map((cell, column) => Math.max(cell.length, ...body.map((row) => row[column]?.length ?? 0)))
  const line = (cells: string[], align: boolean) =>
    `| ${cells.map((cell, column) => (align && column > 0 ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0))).join(' | ')} |`
  const rule = `| ${widths.map((width, column) => (column > 0 ? `${'-'.repeat(width - 1)}:` : '-'.repeat(width))).join(' | ')} |`
  return [line(header, false), rule, ...body.map((row) => line(row, true))]
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
const ms = (value: number) => value.toFixed(3)
const sortedOf = (values: number[] | undefined) => [...(values ?? [])].sort((a, b) => a - b)
const rows = names.map((name) => {
  const sorted = sortedOf(wall[name])
  const cpuSorted = sortedOf(cpu[name])
  return {
    name,
    median: quantile(sorted, 0.5),
    p95: quantile(sorted, 0.95),
    cpuMedian: quantile(cpuSorted, 0.5),
    cpuP95: quantile(cpuSorted, 0.95),
    count: sorted.length,
  }
})
type Row = (typeof rows)[number]
const [before, , first, , , after] = rows as [Row, Row, Row, Row, Row, Row]
const ratios = (row: Row) =>
  `median ${(row.median / before.median).toFixed(2)}, p95 ${(row.p95 / before.p95).toFixed(2)}; in CPU time, median ${(row.cpuMedian / before.cpuMedian).toFixed(2)}, p95 ${(row.cpuP95 / before.cpuP95).toFixed(2)}`

const report = [
  '# One BOLT11 invoice check: bolt11 against noble',
  '',
  `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform}.`,
  `Produced by \`npx tsx bench/invoice-check.ts\` (BENCH_ROUNDS=${rounds}). One run on a shared machine`,
  `(1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end).`,
  '',
  `${invoices.length} signed invoices (every network and multiplier, with and without \`n\`, long and hashed descriptions,`,
  `routing hints), each checked ${rounds} times by each check after ${warmupRounds} warm-up rounds, one call at a time, the`,
  'checks taking turns to go first. A check reads the invoice, checks its signature and names the payee; all name the',
  `signer of every invoice. "before" is bolt11 as payfetch ran it, with ${native}; the`,
  'pure-JS row is a second copy of bolt11 whose secp256k1 is that package’s fallback (elliptic), what bolt11 runs where',
  'no native binary fits. The noble check runs with the payee’s key not remembered (a fresh `PayeeKeys` each call: the',
  'full check), remembered once (the full check, then the key’s table built: a payee’s second invoice), not remembered',
  'while three other keys are (tried first, in vain, without `n`), and remembered with its table (the invoices’ two',
  'signers: a payee checked before).',
  '',
  ...table(
    ['check', 'median ms', 'p95 ms', 'CPU median ms', 'CPU p95 ms', 'checks', 'first call ms'],
    rows.map((row) => [
      row.name,
      ms(row.median),
      ms(row.p95),
      ms(row.cpuMedian),
      ms(row.cpuP95),
      String(row.count),
      ms(firstCall[row.name] ?? 0),
    ]),
  ),
  '',
  `A payee checked before ÷ bolt11 (before): ${ratios(after)}.`,
  `A first invoice from a payee ÷ bolt11 (before): ${ratios(first)}.`,
  `One payee’s table (read its key, build 264 multiples), the one-time part of a second invoice: CPU median ${ms(quantile(sortedOf(tableCpu), 0.5))} ms, p95 ${ms(quantile(sortedOf(tableCpu), 0.95))} ms (${tableCpu.length} builds).`,
  'The first noble check in a process also builds the table of base-point multiples noble keeps for every later one',
  '(viem shares it).',
  '',
]
// Notes written by hand are kept below the new numbers, from a '## Notes' heading on.
const previous = await readFile(reportFile, 'utf8').catch(() => '')
const notes = previous.indexOf('\n## Notes')
const text = `${report.join('\n')}${notes < 0 ? '' : previous.slice(notes)}`
await writeFile(reportFile, text)
console.log(report.join('\n'))
