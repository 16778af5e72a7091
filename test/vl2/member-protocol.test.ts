// Member-side protocol details over the in-memory wire: what the member asks with (1.14.1's request
// metadata), configs spanning several chunks, pushed config updates reconfiguring the running stack,
// credentials pushed before the first frame, multicastLimit 0 and disabled broadcast.
import test from 'ava';
import { NetworkStatus, networkConfigBytes, networkIdToString } from '../../service/core/vl2/network-config.js';
import { METADATA_1_14_1 } from '../helpers/controller-fixtures.js';
import { type Member, MemberWorld } from '../helpers/member-world.js';

const POOL = { ipRangeStart: '10.77.0.10', ipRangeEnd: '10.77.0.250' };
const hex10 = (a: number) => a.toString(16).padStart(10, '0');

async function setup(extra: Record<string, unknown> = {}) {
  const w = await MemberWorld.create();
  const a = w.addMember(2, 'node-A');
  const b = w.addMember(3, 'node-B');
  await w.until(() => a.sim.node.online(w.wire.now) && b.sim.node.online(w.wire.now), 'online');
  const r = await w.api('POST', `/controller/network/${hex10(w.r.node.address)}______`, {
    name: 'proto',
    private: true,
    v4AssignMode: { zt: true },
    ipAssignmentPools: [POOL],
    routes: [{ target: '10.77.0.0/24' }],
    ...extra,
  });
  if (r.status !== 200) throw new Error(`create: ${r.status}`);
  return { w, a, b, nwid: BigInt(`0x${String(r.json.id)}`) };
}

async function member(w: MemberWorld, m: Member, nwid: bigint, extra: Record<string, unknown> = {}) {
  const net = w.join(m, nwid);
  await w.until(() => net.status === NetworkStatus.ACCESS_DENIED, 'denied');
  await w.api('POST', `/controller/network/${networkIdToString(nwid)}/member/${hex10(m.sim.node.address)}`, {
    authorized: true,
    ...extra,
  });
  await w.until(() => net.status === NetworkStatus.OK && (net.config?.staticIps.length ?? 0) > 0, 'OK');
  return net;
}

const ip4 = (m: Member, nwid: bigint) => m.stacks.get(nwid)!.addresses.find((x) => x.address.includes('.'))?.address;

test.serial('requests carry 1.14.1 metadata; a pushed update reconfigures the running stack', async (t) => {
  const { w, a, b, nwid } = await setup();
  t.teardown(() => w.close());
  const netA = await member(w, a, nwid);
  await member(w, b, nwid);
  const st = (w.controller as unknown as { status: Map<string, { metadata?: Uint8Array }> }).status;
  const md = st.get(`${networkIdToString(nwid)}/${hex10(a.sim.node.address)}`)?.metadata;
  t.deepEqual(md && Buffer.from(md).toString(), Buffer.from(METADATA_1_14_1).toString(), 'metadata as capture #027');

  // A fixed address for A through the API: the controller pushes NETWORK_CONFIG, A's stack follows.
  const rev = netA.config!.revision;
  await w.api('POST', `/controller/network/${networkIdToString(nwid)}/member/${hex10(a.sim.node.address)}`, {
    ipAssignments: ['10.77.0.7'],
  });
  await w.until(() => ip4(a, nwid) === '10.77.0.7', 'A reconfigured by the push', 20_000);
  t.is(netA.status, NetworkStatus.OK);
  t.true((w.r.node.received.get('OK') ?? 0) > 0, 'the push was acknowledged');
  // The network renamed: every online member gets the new config (network revision bumps).
  await w.api('POST', `/controller/network/${networkIdToString(nwid)}`, { name: 'renamed' });
  await w.until(() => netA.config?.name === 'renamed', 'rename pushed', 20_000);
  t.true(netA.config!.revision > rev);
  // And frames still flow to the new address.
  await w.drive(b.stacks.get(nwid)!.ping('10.77.0.7', { timeoutMs: 10_000 }), 'ping the new address');
  t.true((a.sim.node.received.get('NETWORK_CREDENTIALS') ?? 0) >= 1, 'B pushed its credentials before its frames');
});

test.serial('a config larger than one chunk is reassembled (1001 rules, two chunks)', async (t) => {
  const rules: Record<string, unknown>[] = [];
  for (let i = 0; i < 500; i++) {
    rules.push({ type: 'MATCH_IPV6_DEST', ip: `fd00::${(i + 1).toString(16)}/128`, not: false, or: false });
    rules.push({ type: 'ACTION_DROP' });
  }
  rules.push({ type: 'ACTION_ACCEPT' });
  const { w, a, b, nwid } = await setup({ rules });
  t.teardown(() => w.close());
  const netA = await member(w, a, nwid);
  await member(w, b, nwid);
  t.is(netA.config!.rules.length, 1001);
  t.true(networkConfigBytes(netA.config!).length > 9740, 'more than one chunk of dictionary');
  await w.drive(a.stacks.get(nwid)!.ping(ip4(b, nwid)!, { timeoutMs: 10_000 }), 'ping under 1001 rules');
  t.pass();
});

test.serial('multicastLimit 0 drops ARP, so nothing resolves', async (t) => {
  const { w, a, b, nwid } = await setup({ multicastLimit: 0 });
  t.teardown(() => w.close());
  const netA = await member(w, a, nwid);
  await member(w, b, nwid);
  await t.throwsAsync(w.drive(a.stacks.get(nwid)!.ping(ip4(b, nwid)!, { timeoutMs: 1500 }), 'ping'));
  t.true((netA.drops.get('multicast-disabled') ?? 0) > 0);
});

test.serial('disabled broadcast drops non-ARP broadcasts but ARP still resolves', async (t) => {
  const { w, a, b, nwid } = await setup({ enableBroadcast: false });
  t.teardown(() => w.close());
  const netA = await member(w, a, nwid);
  await member(w, b, nwid);
  t.false(netA.broadcastEnabled);
  await w.drive(a.stacks.get(nwid)!.ping(ip4(b, nwid)!, { timeoutMs: 10_000 }), 'ping');
  // A UDP datagram to the subnet broadcast address goes to ff:ff:ff:ff:ff:ff: dropped at the sender.
  const sa = a.stacks.get(nwid)!;
  const u = sa.udpOpen({ family: 4, address: '', port: 0 });
  let sent = true;
  try {
    u.sendTo(new Uint8Array(8), { family: 4, address: '10.77.0.255', port: 9 });
  } catch {
    sent = false; // a stack may refuse broadcasts outright; then there is nothing to count
  }
  if (sent) await w.until(() => (netA.drops.get('broadcast-disabled') ?? 0) > 0, 'broadcast dropped', 5000);
  u.close();
  t.is(netA.status, NetworkStatus.OK);
  t.log(`broadcast ${sent ? 'sent by the stack and dropped by VL2' : 'refused by the stack'}`);
});

test.serial('capabilities: with rules that match nothing, a capability carries the traffic both ways', async (t) => {
  const { w, a, b, nwid } = await setup({
    rules: [{ type: 'ACTION_BREAK' }],
    capabilities: [{ id: 7, rules: [{ type: 'ACTION_ACCEPT' }] }],
  });
  t.teardown(() => w.close());
  const netA = await member(w, a, nwid, { capabilities: [7] });
  const netB = await member(w, b, nwid, { capabilities: [7] });
  t.deepEqual(
    netA.config!.capabilities.map((c) => c.id),
    [7],
  );
  await w.drive(a.stacks.get(nwid)!.ping(ip4(b, nwid)!, { timeoutMs: 10_000 }), 'ping under a capability');
  t.is(netA.drops.get('inbound-rules-no-match'), undefined);
  t.is(netB.drops.get('inbound-rules-no-match'), undefined);
});

test.serial("two networks: each network's frames reach only its own stack", async (t) => {
  const { w, a, b, nwid } = await setup();
  t.teardown(() => w.close());
  const r2 = await w.api('POST', `/controller/network/${hex10(w.r.node.address)}______`, {
    private: true,
    v4AssignMode: { zt: true },
    ipAssignmentPools: [{ ipRangeStart: '10.88.0.10', ipRangeEnd: '10.88.0.250' }],
    routes: [{ target: '10.88.0.0/24' }],
  });
  const nwid2 = BigInt(`0x${String(r2.json.id)}`);
  await member(w, a, nwid);
  await member(w, b, nwid);
  await member(w, a, nwid2);
  await member(w, b, nwid2);
  const other = b.stacks.get(nwid2)!;
  const before = other.stats().framesIn;
  await w.drive(a.stacks.get(nwid)!.ping(ip4(b, nwid)!, { timeoutMs: 10_000 }), 'ping on network 1');
  const mid = other.stats().framesIn;
  t.is(mid, before, 'nothing of network 1 reached network 2');
  await w.drive(a.stacks.get(nwid2)!.ping(ip4(b, nwid2)!, { timeoutMs: 10_000 }), 'ping on network 2');
  t.true(other.stats().framesIn > mid);
});

test.serial('multicastLimit caps the recipients of a broadcast', async (t) => {
  const { w, a, b, nwid } = await setup({ multicastLimit: 1 });
  t.teardown(() => w.close());
  const c = w.addMember(4, 'id3');
  await w.until(() => c.sim.node.online(w.wire.now), 'C online');
  await member(w, a, nwid);
  const netB = await member(w, b, nwid);
  const netC = await member(w, c, nwid);
  // Let the announcements (LIKE of the broadcast group) reach the root, then broadcast from A twice.
  await w.until(() => false, 'settle', 2000).catch(() => {});
  const before = netB.framesIn + netC.framesIn;
  const u = a.stacks.get(nwid)!.udpOpen({ family: 4, address: '', port: 0 });
  for (let i = 0; i < 2; i++) {
    u.sendTo(new Uint8Array(16), { family: 4, address: '10.77.0.255', port: 9 });
    await w.until(() => netB.framesIn + netC.framesIn > before + i, `broadcast ${i} delivered`, 10_000);
  }
  await w.until(() => false, 'settle', 2000).catch(() => {});
  u.close();
  t.is(netB.framesIn + netC.framesIn - before, 2, 'each broadcast reached exactly one member');
});
