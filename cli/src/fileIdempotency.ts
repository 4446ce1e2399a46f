import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type IdempotencyStore, type IdempotentRecord, memoryIdempotency } from 'payfetch/tools'

const ttlMs = 24 * 3_600_000

/**
 * Finished paid calls by idempotency key in `idempotency.json` in the state dir, so a retry with
 * the same key after a restart returns the first answer instead of paying again. With a fleet
 * (Redis ledger) each process keeps its own in memory.
 */
export async function fileIdempotency(stateDir: string, fleet: boolean): Promise<IdempotencyStore> {
  if (fleet) return memoryIdempotency()
  const path = join(stateDir, 'idempotency.json')
  let records: Record<string, IdempotentRecord> = {}
  try {
    records = JSON.parse(await readFile(path, 'utf8')) as Record<string, IdempotentRecord>
  } catch {}
  return {
    get(key) {
      const record = records[key]
      return record && record.time + ttlMs > Date.now() ? record : undefined
    },
    async set(key, record) {
      const now = Date.now()
      records = Object.fromEntries(
        Object.entries({ ...records, [key]: record }).filter(([, entry]) => entry.time + ttlMs > now),
      )
      // Write then rename: a crash leaves the old file or the new one, never half of one.
      await writeFile(`${path}.tmp`, JSON.stringify(records), { mode: 0o600 })
      await rename(`${path}.tmp`, path)
    },
  }
}
