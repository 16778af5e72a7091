// A UDP flood at a member's service port during a transfer: junk datagrams of every size, 20,000 a second, at
// member B while its curl fetches 10 MiB from member A over the network. The transfer completes intact and the
// flood is dropped and counted by reason (unstable/stats), nothing thrown.
import { join } from 'node:path';
import test from 'ava';
import { execa } from 'execa';
import { ROOT } from '../../tools/cluster.js';

test('a UDP flood at the service port during a 10 MiB transfer: transfer intact, flood counted as dropped', async (t) => {
  const r = await execa(
    process.execPath,
    [join(ROOT, 'dist', 'test', 'helpers', 'transfer-cluster.js'), '10', '--flood'],
    {
      reject: false,
      timeout: 240_000,
    },
  );
  const last = r.stdout.trim().split('\n').pop() ?? '';
  t.log(last);
  t.is(r.exitCode, 0, r.stderr);
  const report = JSON.parse(last) as { ok: boolean; floodSent: number; dropsDuringTransfer: number; curlError: string };
  t.true(report.ok, report.curlError);
  t.true(report.floodSent > 1000, `only ${report.floodSent} flood datagrams sent`);
  // Loopback may lose some under a full socket buffer; what arrives is counted, and the transfer's own
  // datagrams are not dropped: at least 90% of the flood and at most the flood plus a few are counted.
  t.true(
    report.dropsDuringTransfer >= report.floodSent * 0.9,
    `${report.dropsDuringTransfer} of ${report.floodSent} counted`,
  );
  t.true(
    report.dropsDuringTransfer <= report.floodSent + 100,
    `${report.dropsDuringTransfer} drops > ${report.floodSent} sent`,
  );
});
