import { failureKind, type ToolFailure } from 'payfetch/tools'

/** The CLI's exit codes; scripts branch on them. */
export const exitCodes = {
  ok: 0,
  /** Bad flags or settings: nothing was sent. */
  usage: 2,
  /** payfetch (or the person asked) refused to pay: nothing was paid. */
  refused: 3,
  /** The call failed: nothing was paid. */
  failed: 4,
  /** A proof or payment may have gone through: see `payfetch pending`, finish with `payfetch resume <id>`. */
  unknown: 5,
  /** Paid (the receipt is on stderr), but the answer's body stopped before its end (curl's partial-file code). */
  partial: 18,
  /** The answer could not be written (stdout closed, `-o` full): curl's write-error code. A payment is on stderr. */
  writeError: 23,
  /** `-f` and the server answered 400 or more (curl's code). */
  httpError: 22,
  /** Ctrl-C before any proof left: nothing was paid (a proof already sent is exit 5, with its pending id). */
  interrupted: 130,
} as const

/** The exit code for a failure. */
export function exitCodeFor(failure: ToolFailure): number {
  return exitCodes[failureKind(failure)]
}
