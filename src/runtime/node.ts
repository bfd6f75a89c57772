/**
 * `startNode`: one squall node in this process — a supervisor with its executor threads,
 * the client endpoint and, unless turned off, the HTTP gateway. `stop()` is graceful: it
 * stops accepting, lets the endpoints close, then stops the executors.
 */

import { ClientServer } from './client_server.js';
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
  const supervisor = new Supervisor(resolved);
  const server = new ClientServer(supervisor);
  let gateway: HttpGateway | undefined;
  try {
    await supervisor.start();
    supervisor.address = await server.listen(resolved.host, resolved.port);
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
        await Promise.all([server.close(), gateway?.close()]);
        await supervisor.stop();
      })();
      return stopping;
    },
  };
}
