/** CAIP-2 ids of the Bitcoin chains Lightning invoices name (lnbc, lntb, lntbs, lnbcrt). */
export const bitcoinMainnet = 'bip122:000000000019d6689c085ae165831e93'
export const bitcoinTestnet = 'bip122:000000000933ea01ad0ee984209779ba'
export const bitcoinSignet = 'bip122:00000008819873e925422c1ff0f99f7c'
export const bitcoinRegtest = 'bip122:0f9188f13cb7b2c71f2a335e3a4fc328'
