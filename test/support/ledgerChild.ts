// A child process for the file ledger tests, run with `node --import tsx`:
//
//   loop <journal> <tag>         reserve 1 unit and save a pending payment, forever (compacting
//                                every COMPACT_AFTER records when that is set); prints
//                                `reserved <id>` once reserve resolved and `pending <id>` once
//                                savePending resolved (the parent kills it with SIGKILL)
//   spend <journal> <attempts>   reserve 7 against a budget of 1000, `attempts` times, 4 at a
//                                time; prints `{"ok":n,"refused":m}` at the end
import { fileLedger } from '../../src/node/fileLedger.js'
import { pendingFor, reservation } from './ledgerFixtures.js'

const [mode, path, arg] = process.argv.slice(2)
if (!path) throw new Error('usage: ledgerChild.ts loop|spend <journal> <arg>')
const compactAfter = Number(process.env.COMPACT_AFTER) || undefined
const ledger = await fileLedger(path, { compactAfter })
const print = (line: string) => new Promise<void>((resolve) => process.stdout.write(`${line}\n`, () => resolve()))

if (mode === 'loop') {
  const tag = arg ?? 'child'
  for (let i = 0; ; i++) {
    const id = `${tag}-${i}`
    // A large body makes each pending record several kilobytes, so a kill often lands mid-record.
    const entry = reservation(1n, { id, key: 'crash', limit: 10n ** 12n })
    await ledger.reserve(entry)
    await print(`reserved ${id}`)
    await ledger.savePending({ ...pendingFor(id), body: Buffer.alloc(6_000, i % 251).toString('base64') })
    await print(`pending ${id}`)
  }
} else if (mode === 'spend') {
  let next = 0
  let ok = 0
  let refused = 0
  const attempts = Number(arg)
  const worker = async () => {
    while (next++ < attempts) {
      const result = await ledger.reserve(reservation(7n, { key: 'shared', limit: 1000n, windowMs: 3_600_000 }))
      if (result.ok) ok++
      else refused++
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  await print(JSON.stringify({ ok, refused }))
} else {
  throw new Error(`unknown mode ${mode}`)
}
