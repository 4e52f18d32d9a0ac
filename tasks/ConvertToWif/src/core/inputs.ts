// Validates the task's inputs up front: every problem is reported (naming the input, the value and
// what is allowed) before anything is sent to the service.

import type { RawInputs } from './inputNames';
import { Action, Message, Options, msg } from './model';
import { parseTaskList } from './impact';
import { splitList } from './selection';

export { INPUT_NAMES } from './inputNames';
export type { RawInputs } from './inputNames';

export const ACTIONS: Action[] = ['convert', 'revert', 'report', 'updateIssuer'];
export const IMPACT_MODES: Array<Options['impactCheck']> = ['warn', 'skip', 'off'];

/**
 * `$(Some.Variable)` left in an input: the agent expands a macro only when the variable exists, so
 * the literal text means the variable is not defined in this job (a typo, or a variable of another stage).
 */
const UNEXPANDED_MACRO = /\$\([A-Za-z0-9_.-]+\)/;

export interface ParsedInputs {
  options?: Options;
  reportPath?: string;
  accessToken?: string;
  errors: Message[];
}

export function parseInputs(raw: RawInputs): ParsedInputs {
  const errors: Message[] = [];

  const bool = (name: keyof RawInputs, dflt: boolean): boolean => {
    const v = (raw[name] ?? '').trim();
    if (v === '') return dflt;
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
    errors.push(msg('InputNotBoolean', name, v));
    return dflt;
  };
  const int = (name: keyof RawInputs, dflt: number, min: number, max: number): number => {
    const v = (raw[name] ?? '').trim();
    if (v === '') return dflt;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      errors.push(msg('InputNotInteger', name, v, min, max));
      return dflt;
    }
    return n;
  };

  const actionRaw = (raw.action ?? '').trim() || 'convert';
  const action = ACTIONS.find((a) => a.toLowerCase() === actionRaw.toLowerCase());
  if (!action) errors.push(msg('InputBadAction', actionRaw, ACTIONS.join(', ')));

  // Default `skip`: a connection whose pipelines would break, or whose use could not be read, is left alone.
  const impactRaw = (raw.impactCheck ?? '').trim().toLowerCase() || 'skip';
  const impactCheck = IMPACT_MODES.find((m) => m === impactRaw);
  if (!impactCheck) errors.push(msg('InputBadChoice', 'impactCheck', raw.impactCheck ?? '', IMPACT_MODES.join(', ')));
  const incompatibleTasks = splitList(raw.incompatibleTasks);
  for (const bad of parseTaskList(incompatibleTasks).invalid) errors.push(msg('InputBadTask', bad));

  const options: Options = {
    action: action ?? 'convert',
    connections: splitList(raw.connections),
    excludeConnections: splitList(raw.excludeConnections),
    skipShared: bool('skipShared', true),
    includeManual: bool('includeManual', false),
    dryRun: bool('dryRun', false),
    maxConnections: int('maxConnections', 0, 0, 100000),
    concurrency: int('concurrency', 4, 1, 16),
    waitTimeoutSeconds: int('waitTimeoutSeconds', 300, 0, 3600),
    failOnFindings: bool('failOnFindings', false),
    impactCheck: impactCheck ?? 'skip',
    impactDays: int('impactDays', 30, 1, 365),
    incompatibleTasks,
    projects: splitList(raw.projects),
  };

  for (const name of ['connections', 'excludeConnections', 'projects'] as const) {
    const key = name === 'projects' ? 'InputBadProjectPattern' : 'InputBadPattern';
    for (const entry of options[name]) {
      // Entries are names, ids or * / ? wildcards; a control character or an over-long entry is a paste error.
      // eslint-disable-next-line no-control-regex -- control characters are exactly what is rejected
      if (/[\u0000-\u001f\u007f]/.test(entry) || entry.length > 400) errors.push(msg(key, name, JSON.stringify(entry).slice(0, 80)));
    }
  }

  // Only a report can fail on findings; anywhere else the flag would be silently ignored.
  if (options.failOnFindings && options.action !== 'report') errors.push(msg('InputFailOnFindingsNeedsReport', options.action));

  let accessToken: string | undefined;
  if (raw.accessToken !== undefined && raw.accessToken !== '') {
    // Never echo the value: it is a secret.
    if (raw.accessToken.trim() === '') errors.push(msg('InputBlankToken'));
    else if (UNEXPANDED_MACRO.test(raw.accessToken)) errors.push(msg('InputTokenMacro', UNEXPANDED_MACRO.exec(raw.accessToken)![0]));
    else if (/\s/.test(raw.accessToken.trim())) errors.push(msg('InputTokenWhitespace'));
    else accessToken = raw.accessToken.trim();
  }

  const entraConnection = (raw.entraConnection ?? '').trim() || undefined;
  if (entraConnection !== undefined) {
    const macro = UNEXPANDED_MACRO.exec(entraConnection);
    if (macro) errors.push(msg('InputEntraMacro', macro[0]));
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is rejected
    else if (/[\u0000-\u001f\u007f]/.test(entraConnection) || entraConnection.length > 200)
      errors.push(msg('InputEntraBad', JSON.stringify(entraConnection).slice(0, 80)));
    else options.entraConnection = entraConnection;
  }

  const reportPath = (raw.reportPath ?? '').trim() || undefined;
  if (reportPath !== undefined) {
    const macro = UNEXPANDED_MACRO.exec(reportPath);
    if (macro) errors.push(msg('InputReportPathMacro', macro[0]));
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is rejected
    else if (/[\u0000-\u001f\u007f]/.test(reportPath)) errors.push(msg('InputReportPathControl'));
  }
  return { options: errors.length === 0 ? options : undefined, reportPath, accessToken, errors };
}
