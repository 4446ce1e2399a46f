/**
 * payfetch/browser: a ledger in IndexedDB, shared by the tabs of an origin, and a session store in
 * Web Storage.
 *
 * @module
 */
export { type StorageLedgerOptions, storageLedger } from './storageLedger.js'
export { storageSessions } from './storageSessions.js'
