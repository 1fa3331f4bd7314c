import { createIpAllowList, type TrustProxy } from '@s3relay/core';

/** Express's `trust proxy` setting: a hop count, or "believe only these addresses". */
export type ExpressTrustProxy = number | ((address: string, hop: number) => boolean);

/**
 * TRUST_PROXY as Express takes it. A hop count believes the last N hops whoever they are: with 1,
 * `req.ip` is the address the one proxy saw (the last X-Forwarded-For entry), which a client
 * cannot forge through that proxy. A network list believes only proxies inside it, so a client
 * that reaches the ingress directly is taken at its socket address, whatever it forwards.
 */
export function expressTrustProxy(trust: TrustProxy): ExpressTrustProxy {
  if (trust.kind === 'hops') return trust.hops;
  const isProxy = createIpAllowList(trust.networks);
  return (address) => isProxy(address);
}
