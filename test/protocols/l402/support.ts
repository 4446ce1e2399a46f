import { randomBytes } from 'node:crypto'
import { newMacaroon } from 'macaroon'
import type { Response402 } from '../../../src/protocols/Protocol.js'

/** An Aperture-style token: V2 macaroon, identifier `0x0000 ‖ payment hash ‖ token id`, std base64. */
export function mintToken(
  paymentHash: string,
  caveats: string[] = ['services=demo:0', `demo_valid_until=${Math.floor(Date.now() / 1000) + 3600}`],
): string {
  const identifier = Buffer.concat([Buffer.from([0, 0]), Buffer.from(paymentHash, 'hex'), randomBytes(32)])
  const macaroon = newMacaroon({ version: 2, rootKey: randomBytes(32), identifier, location: 'lsat' })
  for (const caveat of caveats) macaroon.addFirstPartyCaveat(caveat)
  return Buffer.from(macaroon.exportBinary()).toString('base64')
}

/** A 402 whose WWW-Authenticate field is sent as these separate lines. */
export function challengeOf(...lines: string[]): Response402 {
  return {
    url: 'https://api.example.com/report',
    headers: new Headers(lines.map((line): [string, string] => ['www-authenticate', line])),
    body: 'payment required',
  }
}
