// From a ConfigPlan to the signed bytes the member receives: credentials signed by the controller
// identity (COM, COO, capabilities, tags; PROTOCOL-VL2.md §5) and the serialized config dictionary (§4.2),
// using the core's VL2 codecs. Also the COM revocation sent on deauthorization (§10.6).
import type { Identity } from '../core/identity.js';
import type { InetAddress } from '../core/inet-address.js';
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
import { CONFIG_VERSION, type NetworkConfig, networkConfigBytes } from '../core/vl2/network-config.js';
import { rulesFromJson } from '../core/vl2/rules.js';
import type { ConfigPlan } from './config-plan.js';
import type { Cidr, Ip } from './ip.js';

function inet(ip: Ip, port: number): InetAddress {
  return { family: ip.family, ip: ip.bytes, port };
}

function cidrInet(c: Cidr): InetAddress {
  return inet(c.ip, c.bits);
}

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

/** The config for the plan, credentials signed by `signer` (the controller). */
export function buildNetworkConfig(plan: ConfigPlan, signer: Identity, member: Identity): NetworkConfig {
  const creds = buildCredentials(plan, signer, member);
  return {
    version: CONFIG_VERSION,
    networkId: plan.networkId,
    timestamp: plan.timestamp,
    credentialTimeMaxDelta: plan.credentialTimeMaxDelta,
    revision: plan.revision,
    issuedTo: plan.issuedTo,
    remoteTraceTarget: plan.remoteTraceTarget,
    remoteTraceLevel: plan.remoteTraceLevel,
    flags: plan.flags,
    multicastLimit: plan.multicastLimit,
    type: plan.type === 1 ? 1 : 0,
    name: plan.name,
    mtu: plan.mtu,
    com: creds.com,
    capabilities: creds.capabilities,
    tags: creds.tags,
    certificatesOfOwnership: creds.coo ? [creds.coo] : [],
    specialists: plan.specialists,
    routes: plan.routes.map((r) => ({
      target: cidrInet(r.target),
      via: r.via ? inet(r.via, 0) : null,
      flags: 0,
      metric: 0,
    })),
    staticIps: plan.staticIps.map(cidrInet),
    rules: rulesFromJson(plan.rules),
    dns: plan.dns
      ? { domain: plan.dns.domain, servers: plan.dns.servers.map((ip) => inet(ip, 0)) }
      : { domain: '', servers: [] },
    ssoVersion: 0,
    ssoEnabled: false,
    ...(plan.names.length
      ? { names: plan.names.map((m) => ({ address: m.address, name: m.name, ips: m.ips.map((ip) => inet(ip, 0)) })) }
      : {}),
  };
}

/** The serialized config dictionary for the plan (what goes into the signed chunks). */
export function encodeConfig(plan: ConfigPlan, signer: Identity, member: Identity): Uint8Array {
  return networkConfigBytes(buildNetworkConfig(plan, signer, member));
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
