// A client of the service's local API, for the command-line tools: finds the port and token from the home
// folder, and turns "nobody answers" into a sentence a user can act on.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PORT, readAuthToken, readPort } from '../daemon/home.js';

export interface ApiTarget {
  home: string;
  port?: number | undefined;
  token?: string | undefined;
}

export class ApiClientError extends Error {
  /** True when no service answers yet (no token file, nothing listening): one that is starting may soon. */
  constructor(
    message: string,
    readonly notAnswering = false,
  ) {
    super(message);
  }
}

export async function apiCall(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const token = target.token ?? readAuthToken(target.home) ?? readAuthToken(join(homedir(), '.zerotier-one'));
  if (!token)
    throw new ApiClientError(
      `authtoken.secret not found or readable in ${target.home} (use -T<token> or -D<home>)`,
      true,
    );
  const port = target.port ?? readPort(target.home) ?? DEFAULT_PORT;
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { 'X-ZT1-Auth': token, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiClientError(
      `connection failed: no service answers on 127.0.0.1:${port} (is zerotier-netcon-service running with home ${target.home}?)`,
      true,
    );
  }
  const text = await res.text();
  let json: unknown = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  if (res.status === 401) throw new ApiClientError('401 Unauthorized (wrong authtoken.secret?)');
  return { status: res.status, json };
}
