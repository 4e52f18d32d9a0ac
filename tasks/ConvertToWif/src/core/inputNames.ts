// The task's inputs by name, as in task.json (no imports: the ports and the adapters read it too).

/** The task's inputs, as named in task.json. */
export const INPUT_NAMES = [
  'action',
  'connections',
  'excludeConnections',
  'skipShared',
  'includeManual',
  'dryRun',
  'maxConnections',
  'concurrency',
  'waitTimeoutSeconds',
  'reportPath',
  'accessToken',
  'failOnFindings',
  'impactCheck',
  'impactDays',
  'incompatibleTasks',
  'entraConnection',
  'projects',
] as const;

export type RawInputs = Partial<Record<(typeof INPUT_NAMES)[number], string>>;
