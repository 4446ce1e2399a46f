import type { Charge } from '../caps/budgets.js'
import type { LedgerEntry } from './ledgerEntries.js'
import type { Lease } from './ledgerState.js'

/** A ledger entry as JSON: bigints as decimal strings, for stores that keep text. */
export type EntryJson = {
  id: string
  time: number
  state: LedgerEntry['state']
  spend: { network: string; asset: string; host: string; amount: string; nanoUsd?: string | undefined }
  charges: { key: string; limit: string; amount: string; windowMs?: number | undefined }[]
  pending?: LedgerEntry['pending']
  /** Who holds it and until when, for stores that keep leases with the entry. */
  lease?: Lease | undefined
}

/** A spend with its amounts as decimal strings. */
export function spendToJson(spend: LedgerEntry['spend']): EntryJson['spend'] {
  return {
    network: spend.network,
    asset: spend.asset,
    host: spend.host,
    amount: spend.amount.toString(),
    nanoUsd: spend.nanoUsd?.toString(),
  }
}

/** A spend read back from {@link spendToJson}'s form. */
export function spendFromJson(spend: EntryJson['spend']): LedgerEntry['spend'] {
  return {
    network: spend.network,
    asset: spend.asset,
    host: spend.host,
    amount: BigInt(spend.amount),
    nanoUsd: spend.nanoUsd === undefined ? undefined : BigInt(spend.nanoUsd),
  }
}

export function entryToJson(entry: LedgerEntry): EntryJson {
  return {
    id: entry.id,
    time: entry.time,
    state: entry.state,
    spend: spendToJson(entry.spend),
    charges: entry.charges.map((charge) => ({
      key: charge.key,
      limit: charge.limit.toString(),
      amount: charge.amount.toString(),
      windowMs: charge.windowMs,
    })),
    pending: entry.pending,
    lease: entry.lease,
  }
}

export function entryFromJson(json: EntryJson): LedgerEntry {
  // Redis's cjson writes an empty array as {}.
  const charges: Charge[] = (Array.isArray(json.charges) ? json.charges : []).map((charge) => ({
    key: String(charge.key),
    limit: BigInt(charge.limit),
    amount: BigInt(charge.amount),
    windowMs: typeof charge.windowMs === 'number' ? charge.windowMs : undefined,
  }))
  return {
    id: json.id,
    time: json.time,
    state: json.state,
    spend: spendFromJson(json.spend),
    charges,
    pending: json.pending,
    lease: json.lease,
  }
}
