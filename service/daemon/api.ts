// The local JSON API, compatible with ZeroTier One's: on 127.0.0.1 and ::1 at the service port,
// authenticated by the X-ZT1-Auth header, ?auth= or `Authorization: Bearer <token>` (checked in that order,
// the first present decides, as in ZeroTier One). Bodies are compact JSON, as ZeroTier One's. Requests
// without a Host: header are served: ZeroTier One's zerotier-cli sends none. Routes are registered by the
// parts that own them.
//
// An ApiServer is one token and the routes behind it (a node's API); an ApiListener is the listening sockets,
// the connection limits (api-limits.ts) and the authentication, which hands each request to the ApiServer
// whose token it carries. A single service has one of each (ApiServer.listen); a host of many nodes
// (host.ts) has one listener for every node's ApiServer and its own: a request reaches exactly the routes of
// the token it carries, any other token gets 401.
import { createHash } from 'node:crypto';
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

/** Tokens are looked up by their SHA-256, so the lookup time says nothing about how much of a guess matched. */
function tokenKey(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** One token and the routes behind it. */
export class ApiServer {
  private readonly handlers: Handler[] = [];
  private listener: ApiListener | undefined;
  /** Whether `listener` is this server's own (listen) or shared (attach). */
  private ownListener = false;
  private readonly emptyGate: ConnectionGate;

  constructor(
    readonly token: string,
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.emptyGate = new ConnectionGate(warn);
  }

  /** Connection allowances (api-limits.ts) of the listener serving these routes. */
  get gate(): ConnectionGate {
    return this.listener?.gate ?? this.emptyGate;
  }

  /** Handlers are tried in order; the first that returns a response wins. */
  use(h: Handler): void {
    this.handlers.push(h);
  }

  /** Listens on 127.0.0.1 and ::1 (the latter only where IPv6 loopback exists), for this token only. */
  async listen(port: number): Promise<void> {
    const l = new ApiListener(this.warn);
    l.add(this);
    await l.listen(port);
    this.listener = l;
    this.ownListener = true;
  }

  /** Served by a listener shared with other tokens (host mode); close() takes it off again. */
  attach(listener: ApiListener): void {
    listener.add(this);
    this.listener = listener;
    this.ownListener = false;
  }

  async close(): Promise<void> {
    const l = this.listener;
    this.listener = undefined;
    if (!l) return;
    l.remove(this);
    if (this.ownListener) await l.close();
  }

  /** Runs the handlers on an authenticated request. */
  async dispatch(req: ApiRequest): Promise<ApiResponse> {
    for (const h of this.handlers) {
      const r = await h(req);
      if (r) return r;
    }
    return { status: 404, body: {} };
  }
}

/** The listening sockets of the API: authenticates each request and hands it to the ApiServer of its token. */
export class ApiListener {
  private readonly servers: Server[] = [];
  private readonly routes = new Map<string, ApiServer>();
  /** Connection allowances (api-limits.ts), for all tokens together. */
  readonly gate: ConnectionGate;

  constructor(warn: (msg: string) => void = () => {}) {
    this.gate = new ConnectionGate(warn);
  }

  /** Serves `api`'s routes to requests carrying its token; refused if another ApiServer here has that token. */
  add(api: ApiServer): void {
    const key = tokenKey(api.token);
    const have = this.routes.get(key);
    if (have && have !== api) throw new Error('another API here already has this token');
    this.routes.set(key, api);
  }

  remove(api: ApiServer): void {
    const key = tokenKey(api.token);
    if (this.routes.get(key) === api) this.routes.delete(key);
  }

  /** Whether some ApiServer here has this token. */
  hasToken(token: string): boolean {
    return this.routes.has(tokenKey(token));
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

  /** The TCP port listened on (useful with port 0). */
  port(): number {
    const a = this.servers[0]?.address();
    return a && typeof a === 'object' ? a.port : 0;
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

  private routeOf(req: IncomingMessage, url: URL): ApiServer | undefined {
    const given =
      (req.headers['x-zt1-auth'] as string | undefined) ??
      url.searchParams.get('auth') ??
      bearerToken(req.headers.authorization) ??
      '';
    return given.length > 0 ? this.routes.get(tokenKey(given)) : undefined;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const api = this.routeOf(req, url);
    if (!api) {
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
      const r = await api.dispatch({ method, segments, body });
      return r.text !== undefined ? sendText(res, r.status, r.text, r.contentType) : send(res, r.status, r.body);
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
