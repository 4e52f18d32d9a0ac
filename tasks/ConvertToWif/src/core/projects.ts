// Organization-wide runs (input `projects`): which projects a run covers, and from which project
// each connection is handled. A shared connection appears in the listing of every project it is
// shared with, but only its home project (the first project reference) may change it
// (docs/service-behaviour.md §3, §20), so it is handled once, there, and the report shows it once.

import { closestNames } from './closest';
import { homeProject } from './endpoint';
import type { Classified } from './eligibility';
import { Message, msg } from './model';
import type { ProjectInfo } from './ports';
import { makeSelection } from './selection';

export type { ProjectInfo };

/** The projects a run covers, in a stable order (by name), and what the `projects` input asked that matched nothing. */
export interface ProjectScope {
  projects: ProjectInfo[];
  /** Every project the identity can see. */
  visible: ProjectInfo[];
  /** Entries of `projects` that matched no visible project. */
  unmatched: string[];
  /** Set when nothing at all was selected: what was asked and the closest names. */
  nothingMatched?: Message;
}

const byName = new Intl.Collator('en', { sensitivity: 'base' });

/**
 * The projects the `projects` entries select among those the identity can see: names and ids
 * (case-insensitive), `*` / `?` wildcards (the same matcher as `connections`), `*` alone for all.
 */
export function selectProjects(visible: ProjectInfo[], entries: string[]): ProjectScope {
  const selection = makeSelection(entries, []);
  const projects = visible.filter((p) => selection.isSelected(p)).sort((a, b) => byName.compare(a.name, b.name) || (a.id < b.id ? -1 : 1));
  const unmatched = selection.unmatched(visible);
  if (projects.length > 0) return { projects, visible, unmatched };
  const names = visible.map((p) => p.name);
  const closest = names.length
    ? closestNames(entries, names)
        .map((n) => `'${n}'`)
        .join(', ')
    : '-';
  return { projects, visible, unmatched, nothingMatched: msg('NoProjectMatched', entries.join(', '), names.length, closest) };
}

/** A connection deferred to its home project: where it was first seen, and how it was classified there (its selection included). */
export interface Orphan {
  seenIn: ProjectInfo;
  home: ProjectInfo;
  classified: Classified;
}

/** Where a connection listed in a project is handled. */
export type Route =
  /** Here: this is its home project. */
  | { kind: 'here' }
  /** It names no home project: recorded here (the first project that lists it), never changed, since no project can be told to own it. */
  | { kind: 'nohome' }
  /** Already handled or recorded from another project: not again. */
  | { kind: 'seen' }
  /** Its home project is selected too: handled there (recorded here only if the home project cannot be read). */
  | { kind: 'home'; home: ProjectInfo }
  /** Its home project is not selected (or, `visible` false, the identity cannot see it): left alone, recorded here with that reason. */
  | { kind: 'outside'; home: ProjectInfo; visible: boolean };

/**
 * The run-wide record of which project each connection belongs to. Projects are listed a few at a
 * time, in any order: a connection seen first in a project it is only shared with waits for its
 * home project (`deferred`), and is recorded from the first project that saw it only when the home
 * project's listing never showed it (unreadable, deleted during the run, or cancelled).
 */
export class ConnectionRouter {
  private readonly owner = new Set<string>();
  private readonly deferred = new Map<string, Orphan>();
  private readonly selected: Set<string>;
  private readonly visible?: Set<string>;

  /** `visible`: every project the identity can see (to tell "not selected" from "cannot be seen"). */
  constructor(selected: ProjectInfo[], visible?: ProjectInfo[]) {
    this.selected = new Set(selected.map((p) => p.id.toLowerCase()));
    if (visible) this.visible = new Set(visible.map((p) => p.id.toLowerCase()));
  }

  route(c: Classified, project: ProjectInfo): Route {
    const e = c.endpoint;
    const key = e.id.toLowerCase();
    if (this.owner.has(key)) return { kind: 'seen' };
    const home = homeProject(e);
    if (!home) {
      this.owner.add(key);
      return { kind: 'nohome' };
    }
    if (home.id.toLowerCase() === project.id.toLowerCase()) {
      this.owner.add(key);
      this.deferred.delete(key);
      return { kind: 'here' };
    }
    if (this.selected.has(home.id.toLowerCase())) {
      if (!this.deferred.has(key)) this.deferred.set(key, { seenIn: project, home, classified: c });
      return { kind: 'home', home };
    }
    this.owner.add(key);
    return { kind: 'outside', home, visible: !this.visible || this.visible.has(home.id.toLowerCase()) };
  }

  /** The connections whose home project never listed them, each with the first project that did (to record them there). */
  orphans(): Orphan[] {
    const left = [...this.deferred.values()];
    this.deferred.clear();
    for (const o of left) this.owner.add(o.classified.endpoint.id.toLowerCase());
    return left;
  }
}
