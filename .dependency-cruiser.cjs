// Import directions (DESIGN.md §2). A wrong import fails ./test.sh.
const io = '^(node:)?(dgram|net|fs|fs/promises|http|https|child_process|timers|timers/promises|worker_threads)$';
module.exports = {
  forbidden: [
    {
      name: 'core-is-pure',
      comment: 'The protocol core takes bytes and time and returns actions: no sockets, files or timers.',
      severity: 'error',
      from: { path: '^service/core/' },
      to: { path: io },
    },
    {
      name: 'core-imports-only-core',
      comment: 'The core never imports the controller, the daemon, the CLI or netcon.',
      severity: 'error',
      from: { path: '^service/core/' },
      to: { path: '^(service/(?!core/)|netcon/)' },
    },
    {
      name: 'controller-not-daemon',
      comment: 'The controller is a library: of the daemon it may use only the atomic state-file writer and the API types.',
      severity: 'error',
      from: { path: '^service/controller/' },
      to: { path: '^(service/(daemon|cli)/|netcon/)', pathNot: '^service/daemon/(state-files|api)\\.ts$' },
    },
    {
      name: 'netcon-sees-frames-not-zerotier',
      comment: 'netcon/ is the per-network stack and RPC server; it never sees ZeroTier packets.',
      severity: 'error',
      from: { path: '^netcon/' },
      to: { path: '^service/' },
    },
    {
      name: 'common-is-a-shared-leaf',
      comment: 'common/ holds pure leaves that netcon/ and service/ (the core too) both import: they import nothing else.',
      severity: 'error',
      from: { path: '^common/' },
      to: { pathNot: '^common/' },
    },
    {
      name: 'no-test-code-in-product',
      severity: 'error',
      from: { path: '^(common|netcon|service|native)/' },
      to: { path: '^(test|bench|testkit)/' },
    },
    {
      name: 'benches-use-product-and-testkit',
      comment: 'What benches and tests share lives in testkit/ (or tools/); benches do not reach into the tests.',
      severity: 'error',
      from: { path: '^(bench|testkit|tools)/' },
      to: { path: '^test/' },
    },
    {
      name: 'testkit-not-bench',
      severity: 'error',
      from: { path: '^testkit/' },
      to: { path: '^bench/' },
    },
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
