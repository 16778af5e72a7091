import { access } from 'node:fs/promises';
import test from 'ava';

const top = [
  'package.json',
  'tsconfig.json',
  'netcon',
  'intercept',
  'service',
  'lwip',
  'docker-test',
  'build.sh',
  'test.sh',
  'README.md',
];

test('the fixed top-level layout is in place', async (t) => {
  for (const entry of top) {
    await t.notThrowsAsync(access(entry), entry);
  }
});
