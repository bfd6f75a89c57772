/**
 * `startNode`: one squall node in this process — a supervisor with its executor threads,
 * the client and peer endpoint, its place in the cluster (joined through `join` seeds, or
 * alone) and, unless turned off, the HTTP gateway. `stop()` is graceful: it leaves the
 * cluster (handing its keys to their new owners), closes the endpoints, then stops the
 * executors.
 */

import { nanoid } from 'nanoid';
import { ClientServer } from './client_server.js';
import { DEFAULT_CONNECTION_LIMITS } from './connection.js';
import { HttpGateway } from './http_gateway.js';
import { type NodeOptions, resolveOptions } from './options.js';
import { Supervisor } from './supervisor.js';

export interface NodeHandle {
  readonly id: string;
  /** `host:port` of the client and peer endpoint. */
  readonly address: string;
  /** `host:port` of the HTTP gateway, when it runs. */
  readonly httpAddress: string | undefined;
  stop(): Promise<void>;
}

export async function startNode(options: NodeOptions = {}): Promise<NodeHandle> {
  const resolved = resolveOptions(options);
  const supervisor = new Supervisor(resolved, { id: nanoid(12), incarnation: 1 });
  const server = new ClientServer(supervisor);
  let gateway: HttpGateway | undefined;
  try {
    await supervisor.start();
    const address = await server.listen(resolved.host, resolved.port);
    supervisor.startCluster(address, {
      ...DEFAULT_CONNECTION_LIMITS,
      frameBytesMax: resolved.frameBytesMax,
    });
    if (resolved.httpPort !== false) {
      gateway = new HttpGateway(supervisor);
      supervisor.httpAddress = await gateway.listen(resolved.host, resolved.httpPort);
    }
  } catch (error) {
    await server.close().catch(() => undefined);
    await supervisor.stop();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    id: supervisor.nodeId,
    address: supervisor.address,
    httpAddress: supervisor.httpAddress,
    stop() {
      stopping ??= (async () => {
        await gateway?.close();
        await supervisor.leave();
        await server.close();
        await supervisor.stop();
      })();
      return stopping;
    },
  };
}
