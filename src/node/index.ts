/**
 * payfetch/node: a crash-safe file ledger and a file session store, for Node.js.
 *
 * @module
 */
export { type FileLedger, type FileLedgerOptions, fileLedger } from './fileLedger.js'
export { fileSessions } from './fileSessions.js'
