// Loads lwIP-in-WebAssembly (lwip/build/lwip.{cjs,wasm}, built by `make -C lwip`): the wasm is compiled
// once per process (WebAssembly.Module) and instantiated per network through emscripten's instantiateWasm
// hook, synchronously (a few ms and about 1–2 MB each).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The project's TypeScript lib has no WebAssembly types (they come with lib.dom); the few used here:
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
type WasmImports = Record<string, Record<string, unknown>>;
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: WasmImports) => WasmInstance;
  Memory: abstract new (...args: never[]) => WasmMemory;
};

/** The imports glue.c calls (lwip/library.js forwards them to Module.nc). */
export interface LwipHost {
  now(): number;
  outFull(): void;
  tcpAccept(listenId: number, pcb: number): number;
  tcpConnected(id: number): void;
  tcpRecv(id: number, ptr: number, len: number): void;
  tcpSent(id: number, len: number): void;
  tcpErr(id: number, err: number): void;
  udpRecv(id: number, ptr: number, len: number): void;
  pingReply(family: number, seq: number, len: number): void;
  icmpEchoReply(family: number, ptr: number, len: number): void;
  assertFail(msg: number, line: number, file: number): void;
  rxFlush(): void;
}

/** glue.c's exports (pointers are numbers into the instance's memory). */
export interface LwipExports {
  malloc(n: number): number;
  free(p: number): void;
  nc_ctl(): number;
  nc_in_buf(): number;
  nc_out_buf(): number;
  nc_in_cap(): number;
  nc_rx_buf(): number;
  nc_rx_recs(): number;
  nc_init(mtu: number, seed: number): number;
  nc_set_link(mtu: number): void;
  nc_set_ip4(idx: number): number;
  nc_clear_ip6(): void;
  nc_add_ip6(): number;
  nc_clear_routes(): void;
  nc_add_route(): number;
  nc_input(count: number, trusted: number): void;
  nc_link_checksums(on: number): void;
  nc_timers(): number;
  nc_sleeptime(): number;
  nc_poll_loop(): number;
  nc_flush_output(): number;
  nc_tcp_new(id: number, family: number): number;
  nc_tcp_bind(pcb: number, reuse: number): number;
  nc_tcp_listen(pcb: number, id: number, backlog: number): number;
  nc_tcp_backlog_delayed(pcb: number): void;
  nc_tcp_backlog_accepted(pcb: number): void;
  nc_tcp_connect(pcb: number): number;
  nc_tcp_addrs(pcb: number): void;
  nc_tcp_state(pcb: number): number;
  nc_tcp_writable(pcb: number): number;
  nc_tcp_wbuf(pcb: number, n: number): number;
  nc_tcp_write(pcb: number, ptr: number, len: number, more: number): number;
  nc_tcp_output(pcb: number): void;
  nc_tcp_want_sent(pcb: number, on: number): void;
  nc_tcp_recved(pcb: number, n: number): void;
  nc_tcp_shutdown(pcb: number): number;
  nc_tcp_close(pcb: number): void;
  nc_tcp_abort(pcb: number): void;
  nc_tcp_nodelay(pcb: number, on: number): void;
  nc_tcp_keepalive(pcb: number, on: number, idle: number, intvl: number, cnt: number): void;
  nc_udp_new(id: number, family: number): number;
  nc_udp_bind(pcb: number, reuse: number): number;
  nc_udp_connect(pcb: number): number;
  nc_udp_local(pcb: number): void;
  nc_udp_sendto(pcb: number, ptr: number, len: number): number;
  nc_udp_remove(pcb: number): void;
  nc_ping(seq: number, len: number): number;
  nc_icmp_echo(msg: number, len: number): number;
  nc_stats(ptr: number): void;
  nc_chksum_selftest(seed: number): number;
}

export interface LwipInstance {
  exports: LwipExports;
  memory: WasmMemory;
}

type Factory = (moduleArg: Record<string, unknown>) => unknown;

let compiled: { module: WasmModule; factory: Factory; exportMap?: Map<string, string> } | undefined;

function findBuildDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'lwip', 'build');
    if (existsSync(join(candidate, 'lwip.wasm'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('lwip/build/lwip.wasm not found: run ./build.sh (make -C lwip)');
}

function load(): NonNullable<typeof compiled> {
  if (compiled) return compiled;
  const dir = findBuildDir();
  const module = new WebAssembly.Module(readFileSync(join(dir, 'lwip.wasm')));
  const require = createRequire(import.meta.url);
  const factory = require(join(dir, 'lwip.cjs')) as Factory;
  compiled = { module, factory };
  return compiled;
}

/** Compiles the module now (it is otherwise compiled by the first instantiate()). */
export function precompile(): void {
  load();
}

/** A new, independent lwIP instance; host receives its callbacks. */
export function instantiate(host: LwipHost): LwipInstance {
  const c = load();
  let instance: WasmInstance | undefined;
  const mod: Record<string, unknown> = {
    nc: host,
    print: () => {},
    printErr: () => {},
    instantiateWasm(imports: WasmImports, receive: (i: WasmInstance, m: WasmModule) => void) {
      instance = new WebAssembly.Instance(c.module, imports);
      receive(instance, c.module);
      return instance.exports;
    },
  };
  c.factory(mod);
  if (!instance) throw new Error('lwip: synchronous instantiation failed');
  const raw = instance.exports as Record<string, unknown>;
  // emcc minifies export names; its JS wrappers (Module._nc_x) name the wasm export they forward to.
  if (!c.exportMap) {
    const map = new Map<string, string>();
    for (const key of Object.keys(mod)) {
      if (!key.startsWith('_')) continue;
      const m = /Module\["asm"\]\["([^"]+)"\]/.exec(String(mod[key]));
      if (m) map.set(key.slice(1), m[1]!);
    }
    c.exportMap = map;
  }
  const exports: Record<string, unknown> = {};
  for (const [name, key] of c.exportMap) exports[name] = raw[key];
  let memory: WasmMemory | undefined;
  for (const v of Object.values(raw)) if (v instanceof WebAssembly.Memory) memory = v;
  if (!memory || typeof exports.nc_init !== 'function') throw new Error('lwip: unexpected module exports');
  return { exports: exports as unknown as LwipExports, memory };
}
