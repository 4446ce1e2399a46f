import { PayfetchError } from '../errors/PayfetchError.js'
import type { ReplayableRequest } from './replayableRequest.js'

const redirectStatuses = new Set([301, 302, 303, 307, 308])

/**
 * Sends the paid replay with redirects followed by hand, so the proof headers go only to the
 * origin that asked for payment: once a hop leaves that origin, they are never sent again.
 * Returns every hop's response; the last is the caller's. A redirect that cannot be followed
 * (too many hops, not http) is returned as it is, since the payment may already have settled.
 */
export async function sendFollowingRedirects(
  fetchImpl: typeof fetch,
  request: ReplayableRequest,
  start: { url: string; proof: Record<string, string> },
  maxRedirects: number,
): Promise<Response[]> {
  const origin = new URL(start.url).origin
  const hops: Response[] = []
  let url = new URL(start.url)
  let method = request.method
  let leftOrigin = false
  for (;;) {
    leftOrigin ||= url.origin !== origin
    const proof = leftOrigin ? { drop: Object.keys(start.proof) } : { headers: start.proof }
    const response = await fetchImpl(...request.build({ url: url.toString(), method, redirect: 'manual', ...proof }))
    hops.push(response)
    const location = response.headers.get('location')
    if (!redirectStatuses.has(response.status) || location === null || request.redirect === 'manual') return hops
    if (request.redirect === 'error')
      throw new PayfetchError('REDIRECT_REFUSED', 'The paid request was redirected, and redirect is "error".', {
        details: { status: response.status },
      })
    const next = URL.canParse(location, url) ? new URL(location, url) : undefined
    if (!next || !/^https?:$/.test(next.protocol) || hops.length > maxRedirects) return hops
    // As fetch does: 303 turns anything but HEAD into GET; 301/302 turn POST into GET.
    if (
      (response.status === 303 && method !== 'HEAD') ||
      ((response.status === 301 || response.status === 302) && method === 'POST')
    )
      method = 'GET'
    await response.body?.cancel().catch(() => {})
    url = next
  }
}
