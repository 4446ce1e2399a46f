// Errors that mean the connection never opened, so no request byte (and no proof) left: Node's
// socket codes and undici's connect timeout. A browser's opaque "Failed to fetch" says nothing of
// the kind, and stays an unknown outcome.
const beforeConnect = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
])

/** Whether a failed fetch provably sent nothing. */
export function neverSent(error: unknown): boolean {
  for (let cause = error, depth = 0; cause && depth < 4; cause = (cause as { cause?: unknown }).cause, depth++) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === 'string' && beforeConnect.has(code)) return true
  }
  return false
}
