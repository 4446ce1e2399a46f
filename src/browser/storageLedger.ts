import { PayfetchError } from '../errors/PayfetchError.js'
import { type EntryJson, entryFromJson, entryToJson } from '../ledger/entryJson.js'
import type { ClaimResult, EntryState, Ledger } from '../ledger/Ledger.js'
import { checkCharges, type LedgerEntry, reportOf } from '../ledger/ledgerEntries.js'
import { leaseOption, notHeld } from '../ledger/ledgerState.js'

export type StorageLedgerOptions = {
  /** The IndexedDB database name. Default `payfetch`. */
  name?: string | undefined
  /** The object store in that database; created on first use. Default `ledger`. */
  store?: string | undefined
  /** The IndexedDB factory. Default: `globalThis.indexedDB`. */
  indexedDB?: IDBFactory | undefined
  /**
   * How long a reservation's lease lasts, in ms (default 300 000: five minutes). A tab closed or
   * crashed before its proof left holds the reservation's room that long; a live one renews it.
   *
   * @example
   * ```ts
   * const ledger = storageLedger({ leaseMs: 60_000 })
   * ```
   */
  leaseMs?: number | undefined
  /** The clock of leases and of `report`'s windows, in Unix ms. Default `Date.now`; for tests. */
  now?: (() => number) | undefined
}

/** Released entries count for nothing; those older than this are deleted by `reserve`. */
const pruneAfterMs = 86_400_000

/**
 * A ledger in IndexedDB, so budgets hold across reloads and across the tabs and workers of one
 * origin. Every operation is one IndexedDB transaction; `reserve` reads the entries, checks every
 * charge and writes the reservation in one readwrite transaction, which the browser runs one at a
 * time across tabs, so concurrent tabs never overspend. (Web Storage cannot give this: Chromium
 * does not make `localStorage` consistent across tabs, even under `navigator.locks`.)
 *
 * Each entry is one record, keyed by reservation id, amounts as decimal strings. `reserve` also
 * deletes released entries older than a day; entries that still count (or may, for budgets
 * without a window and the report's totals) are kept. Fails closed with `INVALID_OPTIONS` where
 * there is no IndexedDB (Node, server-side rendering), rather than forgetting every spend.
 *
 * A tab is a process here: its reservations are leased to it (see `leaseMs`), so a tab closed
 * while its `approve` prompt was open frees its room one lease later.
 *
 * @example
 * ```ts
 * import { createPayingFetch } from 'payfetch'
 * import { storageLedger } from 'payfetch/browser'
 *
 * const fetchPaid = createPayingFetch({ signers, ledger: storageLedger(), caps: { budgets: [{ usd: '1', window: '1d' }] } })
 * ```
 */
export function storageLedger(options: StorageLedgerOptions = {}): Ledger {
  const name = options.name ?? 'payfetch'
  const storeName = options.store ?? 'ledger'
  const leaseMs = leaseOption(options.leaseMs)
  const now = options.now ?? Date.now
  // Opened on first use, not here: building the ledger where there is no IndexedDB (SSR) is harmless.
  let connection: Promise<IDBDatabase> | undefined
  const database = (): Promise<IDBDatabase> => {
    const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB
    if (!factory)
      throw new PayfetchError(
        'INVALID_OPTIONS',
        'storageLedger needs IndexedDB: pass options.indexedDB where globalThis.indexedDB is missing.',
      )
    if (connection) return connection
    const opened = connect(factory, name, storeName).then(
      (db) => {
        // Another tab adding a store needs every connection closed, or it waits forever: let go
        // (running transactions still finish) and reconnect on the next operation.
        db.onversionchange = () => {
          db.close()
          forget()
        }
        db.onclose = forget
        return db
      },
      (error: unknown) => {
        forget()
        throw error
      },
    )
    const forget = () => {
      if (connection === opened) connection = undefined
    }
    connection = opened
    return connection
  }

  // One transaction per operation: `start` issues the first request and `then` runs in its success
  // callback, synchronously, issuing any writes there. IndexedDB commits a transaction once no
  // request is pending, so awaiting anything else inside would end it early. The result is given
  // only once the transaction has committed.
  const transact = async <R, T>(
    mode: IDBTransactionMode,
    start: (store: IDBObjectStore) => IDBRequest<R>,
    then: (result: R, store: IDBObjectStore) => T,
  ): Promise<T> => {
    const db = await database()
    return new Promise<T>((resolve, reject) => {
      // Strict: a reservation is on disk before the payment it allows is signed.
      const transaction = db.transaction(storeName, mode, { durability: mode === 'readwrite' ? 'strict' : 'default' })
      const store = transaction.objectStore(storeName)
      let value: T
      let failure: unknown
      const request = start(store)
      request.onsuccess = () => {
        try {
          value = then(request.result, store)
        } catch (error) {
          // Keep the real error (a corrupt record…): an exception here would abort as a bare AbortError.
          failure = error
          transaction.abort()
        }
      }
      transaction.oncomplete = () => resolve(value)
      // A failed request (quota, constraint) aborts the whole transaction: nothing of it is kept.
      transaction.onabort = () =>
        reject(failure ?? transaction.error ?? new DOMException('The ledger transaction was aborted.', 'AbortError'))
    })
  }

  // Changes one record in one transaction; `change` returns what the caller gets.
  const update = <T>(id: string, change: (entry: LedgerEntry | undefined) => { write: boolean; result: T }) =>
    transact(
      'readwrite',
      (store) => store.get(id) as IDBRequest<EntryJson | undefined>,
      (json, store) => {
        const entry = json && entryFromJson(json)
        const { write, result } = change(entry)
        if (write && entry) store.put(entryToJson(entry))
        return result
      },
    )
  const live = (entry: LedgerEntry | undefined): entry is LedgerEntry =>
    entry?.state === 'reserved' || entry?.state === 'unknown'
  const setState = (id: string, state: EntryState) =>
    update(id, (entry) => {
      if (entry) {
        entry.state = state
        entry.lease = undefined
        if (state !== 'unknown') entry.pending = undefined
      }
      return { write: true, result: undefined }
    })
  const readAll = <T>(then: (entries: LedgerEntry[]) => T) =>
    transact(
      'readonly',
      (store) => store.getAll() as IDBRequest<EntryJson[]>,
      (list) => then(list.map(entryFromJson)),
    )

  // One record per id rather than one record holding all: reserve reads every entry either way
  // (getAll), but writes just its own, and commit/release/markUnknown touch one record instead of
  // rewriting the whole ledger; pruning is a delete per entry.
  return {
    leaseMs,
    reserve: (reservation) =>
      transact(
        'readwrite',
        (store) => store.getAll() as IDBRequest<EntryJson[]>,
        (list, store) => {
          // Budgets without a window and the report count every entry: only released ones can go.
          // Pruned here, where the store grows, so report stays a readonly transaction.
          const time = now()
          const cutoff = time - pruneAfterMs
          const entries: LedgerEntry[] = []
          for (const json of list) {
            if (json.state === 'released' && json.time < cutoff) {
              store.delete(json.id)
              continue
            }
            const entry = entryFromJson(json)
            // A reservation its tab stopped renewing before a proof left: released.
            if (entry.state === 'reserved' && !entry.pending && entry.lease && entry.lease.until <= time) {
              entry.state = 'released'
              entry.lease = undefined
              store.put(entryToJson(entry))
            }
            entries.push(entry)
          }
          const result = checkCharges(entries, reservation)
          const { owner } = reservation
          if (result.ok)
            store.put(
              entryToJson({
                ...reservation,
                state: 'reserved',
                lease: owner === undefined ? undefined : { owner, until: time + leaseMs },
              }),
            )
          return result
        },
      ),
    claim: (id, owner) =>
      update(id, (entry): { write: boolean; result: ClaimResult } => {
        const time = now()
        if (!live(entry)) return { write: false, result: { ok: false, reason: 'gone' } }
        const held = entry.lease
        if (held?.owner !== owner) {
          if (!entry.pending) return { write: false, result: { ok: false, reason: 'gone' } }
          if (held && held.until > time)
            return { write: false, result: { ok: false, reason: 'held', until: held.until } }
        }
        entry.lease = { owner, until: time + leaseMs }
        return { write: true, result: { ok: true, until: time + leaseMs } }
      }),
    commit: (id, settled) =>
      update(id, (entry) => {
        if (entry) {
          if (settled) Object.assign(entry, { spend: settled.spend, charges: settled.charges })
          entry.state = 'committed'
          entry.pending = undefined
          entry.lease = undefined
        }
        return { write: true, result: undefined }
      }),
    release: (id) => setState(id, 'released'),
    markUnknown: (id) => setState(id, 'unknown'),
    markRefused: (id) => setState(id, 'refused'),
    savePending: async (pending, owner) => {
      const saved = await update(pending.id, (entry) => {
        if (!live(entry)) return { write: false, result: false }
        entry.pending = pending
        if (owner !== undefined) entry.lease = { owner, until: now() + leaseMs }
        return { write: true, result: true }
      })
      if (!saved) throw notHeld(pending.id)
    },
    pending: () => readAll((entries) => entries.flatMap((entry) => (entry.pending ? [entry.pending] : []))),
    report: (rules = []) => readAll((entries) => reportOf(entries, rules, now())),
  }
}

/** Opens `name` with `storeName` in it, adding the store in a version upgrade when it is missing. */
function connect(factory: IDBFactory, name: string, storeName: string, version?: number): Promise<IDBDatabase> {
  return new Promise<IDBDatabase>((resolve, reject) => {
    const request = factory.open(name, version)
    request.onupgradeneeded = () => {
      if (!request.result.objectStoreNames.contains(storeName))
        request.result.createObjectStore(storeName, { keyPath: 'id' })
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  }).then(
    (db) => {
      if (db.objectStoreNames.contains(storeName)) return db
      // The database exists without this store (another store name came first).
      db.close()
      return connect(factory, name, storeName, db.version + 1)
    },
    (error: unknown) => {
      // Another tab upgraded past the version asked for: open whatever is there now.
      if (version !== undefined && error instanceof DOMException && error.name === 'VersionError')
        return connect(factory, name, storeName)
      throw error
    },
  )
}
