// Wiring: the task-lib adapter, the Azure DevOps client and real time, handed to the use case
// (core/runTask.ts). `makeClient` is the seam the L0 tests use to run the task with an in-memory
// Azure DevOps instead of mocking a module path.

import { setMaxListeners } from 'events';
import { abortableClock } from './adapters/clock';
import { EntraClient, EntraClientOptions } from './adapters/entraClient';
import { Pacer } from './adapters/pacer';
import { ServiceClient, ServiceClientOptions } from './adapters/serviceClient';
import { TaskIO } from './adapters/taskio';
import { AzureDevOps, EntraPort } from './core/ports';
import { runTask } from './core/runTask';

export async function main(
  taskDir: string,
  makeClient: (o: ServiceClientOptions) => AzureDevOps = (o) => new ServiceClient(o),
  makeEntra: (o: EntraClientOptions) => EntraPort = (o) => new EntraClient(o),
): Promise<void> {
  const io = new TaskIO(taskDir);
  const cancel = new AbortController();
  // Every read in flight and every wait listens for the one cancellation (twice `concurrency` reads
  // alongside the changes, across projects): more than Node's default of 10, and not a leak.
  setMaxListeners(0, cancel.signal);
  io.onCancel(() => cancel.abort());
  const clock = abortableClock(cancel.signal);
  // One pacer for every service: a throttled run sends fewer requests in flight, wherever they go.
  let pacer: Pacer | undefined;
  const paced = (concurrency: number) =>
    (pacer ??= new Pacer(concurrency, (limit) => io.debug(`service throttling: at most ${limit} request(s) in flight now`)));
  const common = { clock, signal: cancel.signal, cert: io.cert(), debug: (m: string) => io.debug(m), requestTimeoutMs: io.requestTimeoutSeconds() * 1000 };
  // The first client's connections, pacer and retry policy serve every other project of the run.
  let first: AzureDevOps | undefined;
  try {
    await runTask({
      host: io,
      clock,
      cancelled: cancel.signal,
      connect: (s) =>
        first instanceof ServiceClient
          ? first.forProject(s.projectId)
          : (first = makeClient({
              ...common,
              collectionUrl: s.collectionUrl,
              projectId: s.projectId,
              token: s.token,
              maxInFlight: s.maxInFlight,
              pacer: paced(s.maxInFlight),
              proxy: io.proxy(s.collectionUrl),
            })),
      // Only the agent's CA goes to Entra and Graph: a client certificate configured for Azure DevOps Server is not theirs.
      connectEntra: (s) =>
        makeEntra({
          ...common,
          cert: common.cert?.caFile ? { caFile: common.cert.caFile } : undefined,
          settings: s,
          pacer: paced(s.concurrency),
          secret: (v) => io.secret(v),
          proxy: io.proxy(s.graphUrl),
        }),
    });
  } catch (err) {
    io.result('Failed', io.loc('Unexpected', err instanceof Error ? err.message : String(err)));
  }
  // Exit once the log has reached the agent: requests abandoned after a cancellation or a timeout
  // must not keep the process alive, and exiting earlier would drop the end of the log.
  await io.flush();
  process.exit();
}
