import type { MethodKind, PaymentMethod, Signer } from '../../src/index.js'
import type { MethodPayer, PayContext } from '../../src/signers/Signer.js'

type Pay = (request: PaymentMethod, context: PayContext) => Promise<unknown>

/** The signer with every method payer's `pay` wrapped by `around`. */
export function wrapPayers(signer: Signer, around: (pay: Pay) => Pay): Signer {
  const methods: Record<string, MethodPayer> = {}
  for (const [kind, payer] of Object.entries(signer.methods) as [MethodKind, MethodPayer | undefined][]) {
    if (payer) methods[kind] = { ...payer, pay: around(payer.pay.bind(payer) as Pay) as MethodPayer['pay'] }
  }
  return { ...signer, methods }
}

/** The signer, wrapped to record every method request it is asked to pay: "nothing signed" is `calls.length === 0`. */
export function countingSigner(signer: Signer): Signer & { calls: PaymentMethod[] } {
  const calls: PaymentMethod[] = []
  const wrapped = wrapPayers(signer, (pay) => (request, context) => {
    calls.push(request)
    return pay(request, context)
  })
  return { ...wrapped, calls }
}
