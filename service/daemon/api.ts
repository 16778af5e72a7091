// The local JSON API, compatible with ZeroTier One's: on 127.0.0.1 and ::1 at the service port,
// authenticated by the X-ZT1-Auth header, ?auth= or `Authorization: Bearer <token>` (checked in that order,
// the first present decides, as in ZeroTier One). Bodies are compact JSON, as ZeroTier One's. Requests
// without a Host: header are served: ZeroTier One's zerotier-cli sends none. Routes are registered by the
// parts that own them.
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { API_LIMITS, ConnectionGate, lingerOnClose, readLimitedBody } from './api-limits.js';

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiRequest {
  method: Method;
  /** Path segments after the leading slash, e.g. ['peer', '29077f37cd']. */
  segments: string[];
  body: unknown;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  /** Sent as is instead of `body` when present (e.g. the controller's compact JSON, or '' for no body). */
  text?: string;
  /** Content type for `text`; none when omitted and `text` is empty, else application/json. */
  contentType?: string;
}

export type Handler = (req: ApiRequest) => Promise<ApiResponse | undefined> | ApiResponse | undefined;

/** A JSON error with an HTTP status, e.g. `new ApiError(404)`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown = {},
  ) {
    super(`HTTP ${status}`);
  }
}

function isLoopback(addr: string | undefined): boolean {
  return addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1';
}

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly handlers: Handler[] = [];
  /** Connection allowances (api-limits.ts). */
  readonly gate: ConnectionGate;

  constructor(
    private readonly token: string,
    warn: (msg: string) => void = () => {},
  ) {
    this.gate = new ConnectionGate(warn);
  }

  /** Handlers are tried in order; the first that returns a response wins. */
  use(h: Handler): void {
    this.handlers.push(h);
  }

  /** Listens on 127.0.0.1 and ::1 (the latter only where IPv6 loopback exists). */
  async listen(port: number): Promise<void> {
    for (const host of ['127.0.0.1', '::1']) {
      // zerotier-cli 1.14.1 sends HTTP/1.1 requests without Host:, which Node refuses by default.
      const server = createServer(
        {
          requireHostHeader: false,
          headersTimeout: API_LIMITS.headersTimeoutMs,
          requestTimeout: API_LIMITS.requestTimeoutMs,
          connectionsCheckingInterval: API_LIMITS.checkIntervalMs,
        },
        (req, res) => void this.serve(req, res),
      );
      server.keepAliveTimeout = 5000;
      server.timeout = API_LIMITS.idleTimeoutMs;
      server.on('connection', (s) => this.gate.admit(s));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ port, host, backlog: API_LIMITS.backlog }, () => resolve());
        });
        this.servers.push(server);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (host === '::1' && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
        await this.close();
        throw e;
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.splice(0).map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const given =
      (req.headers['x-zt1-auth'] as string | undefined) ??
      url.searchParams.get('auth') ??
      bearerToken(req.headers.authorization) ??
      '';
    const a = Buffer.from(given);
    const b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!this.authorized(req, url)) {
      res.shouldKeepAlive = false; // an unauthenticated client gets its 401 and nothing more
      return send(res, 401, {});
    }
    const read = await readLimitedBody(req);
    if (!read.ok) {
      res.shouldKeepAlive = false;
      lingerOnClose(req.socket);
      return send(res, read.status, { error: read.error });
    }
    let body: unknown;
    try {
      body = read.bytes.length === 0 ? undefined : JSON.parse(read.bytes.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'request body is not valid JSON' });
    }
    const method = (req.method ?? 'GET').toUpperCase() as Method;
    const segments = url.pathname.split('/').filter((s) => s.length > 0);
    try {
      for (const h of this.handlers) {
        const r = await h({ method, segments, body });
        if (r)
          return r.text !== undefined ? sendText(res, r.status, r.text, r.contentType) : send(res, r.status, r.body);
      }
      send(res, 404, {});
    } catch (e) {
      if (e instanceof ApiError) return send(res, e.status, e.body);
      send(res, 500, { error: (e as Error).message });
    }
  }
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive, exactly two words), else undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const words = header?.split(' ').filter((w) => w.length > 0);
  return words?.length === 2 && words[0]!.toLowerCase() === 'bearer' ? words[1] : undefined;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function sendText(res: ServerResponse, status: number, text: string, contentType?: string): void {
  const headers: Record<string, string | number> = { 'Content-Length': Buffer.byteLength(text) };
  const type = contentType ?? (text.length > 0 ? 'application/json' : undefined);
  if (type) headers['Content-Type'] = type;
  res.writeHead(status, headers);
  res.end(text);
}
