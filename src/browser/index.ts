/**
 * payfetch/browser: a ledger and a session store in Web Storage.
 *
 * @module
 */
export { storageLedger, type StorageLedgerOptions } from './storageLedger.js'
export { storageSessions } from './storageSessions.js'
