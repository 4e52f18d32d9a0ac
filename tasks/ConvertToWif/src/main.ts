// Wiring: the task-lib adapter, the Azure DevOps client and real time, handed to the use case
// (core/runTask.ts). `makeClient` is the seam the L0 tests use to run the task with an in-memory
// Azure DevOps instead of mocking a module path.

import { abortableClock } from './adapters/clock';
import { ServiceClient, ServiceClientOptions } from './adapters/serviceClient';
import { TaskIO } from './adapters/taskio';
import { AzureDevOps } from './core/ports';
import { runTask } from './core/runTask';

export async function main(taskDir: string, makeClient: (o: ServiceClientOptions) => AzureDevOps = (o) => new ServiceClient(o)): Promise<void> {
  const io = new TaskIO(taskDir);
  const cancel = new AbortController();
  io.onCancel(() => cancel.abort());
  const clock = abortableClock(cancel.signal);
  try {
    await runTask({
      host: io,
      clock,
      cancelled: cancel.signal,
      connect: (s) =>
        makeClient({
          collectionUrl: s.collectionUrl,
          projectId: s.projectId,
          token: s.token,
          maxInFlight: s.concurrency,
          clock,
          signal: cancel.signal,
          proxy: io.proxy(s.collectionUrl),
          cert: io.cert(),
          debug: (m) => io.debug(m),
          requestTimeoutMs: io.requestTimeoutSeconds() * 1000,
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
