// From a ConfigPlan to the signed bytes the member receives: credentials signed by the controller
// identity (COM, COO, capabilities, tags; PROTOCOL-VL2.md §5) and the serialized config dictionary (§4.2),
// using the core's VL2 codecs. Also the COM revocation sent on deauthorization (§10.6).
import type { Identity } from '../core/identity.js';
import {
  type Capability,
  type CertificateOfMembership,
  type CertificateOfOwnership,
  CREDENTIAL_TYPE,
  createCapability,
  createCom,
  createCoo,
  createRevocation,
  createTag,
  encodeRevocation,
  ipThing,
  REVOCATION_FLAG_FAST_PROPAGATE,
  signCapability,
  signCom,
  signCoo,
  signRevocation,
  signTag,
  type Tag,
} from '../core/vl2/credentials.js';
import { rulesFromJson } from '../core/vl2/rules.js';
import type { ConfigPlan } from './config-plan.js';

export interface PlanCredentials {
  com: CertificateOfMembership;
  coo: CertificateOfOwnership | undefined;
  capabilities: Capability[];
  tags: Tag[];
}

/** Signs the plan's credentials for `member` (timestamps = the config's). */
export function buildCredentials(plan: ConfigPlan, signer: Identity, member: Identity): PlanCredentials {
  const com = signCom(
    createCom({
      timestamp: plan.timestamp,
      maxDelta: plan.credentialTimeMaxDelta,
      networkId: plan.networkId,
      issuedTo: member,
    }),
    signer,
  );
  const coo =
    plan.staticIps.length > 0
      ? signCoo(
          createCoo({
            networkId: plan.networkId,
            timestamp: plan.timestamp,
            id: 1,
            issuedTo: plan.issuedTo,
            things: plan.staticIps.map((c) => ipThing(c.ip.bytes)),
          }),
          signer,
        )
      : undefined;
  const capabilities = plan.capabilities.map((c) =>
    signCapability(
      createCapability({
        networkId: plan.networkId,
        timestamp: plan.timestamp,
        id: c.id,
        rules: rulesFromJson(c.rules),
      }),
      signer,
      plan.issuedTo,
    ),
  );
  const tags = plan.tags.map((t) =>
    signTag(
      createTag({
        networkId: plan.networkId,
        timestamp: plan.timestamp,
        id: t.id,
        value: t.value,
        issuedTo: plan.issuedTo,
      }),
      signer,
    ),
  );
  return { com, coo, capabilities, tags };
}

/** The serialized config dictionary for the plan. */
export function encodeConfig(plan: ConfigPlan, signer: Identity, member: Identity): Uint8Array {
  buildCredentials(plan, signer, member);
  throw new Error('the network-config codec has not landed yet');
}

/** A signed COM revocation of `target` on `nwid` (threshold = now, fast propagate), serialized. */
export function makeRevocation(signer: Identity, nwid: bigint, target: number, now: number, id: number): Uint8Array {
  const rev = createRevocation({
    id,
    networkId: nwid,
    credentialId: 0,
    threshold: now,
    flags: REVOCATION_FLAG_FAST_PROPAGATE,
    target,
    credentialType: CREDENTIAL_TYPE.COM,
  });
  return encodeRevocation(signRevocation(rev, signer));
}
