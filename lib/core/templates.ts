/**
 * Core: the unit templates shipped in `units/`, rendered strictly: every value must already be
 * formatted by typed code, HTML escaping is off, and a missing value is an error instead of the
 * empty `Key=` that Mustache would print (which systemd reads as "reset this setting").
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import Mustache from 'mustache';
import { PgQuadletError } from './errors.js';

/** A value a template prints, already formatted for a unit file by unit-syntax.ts. An optional
 * one is a section in the template (`{{#key}}Key={{key}}{{/key}}`): left out when undefined, so a
 * key is never printed empty (which systemd reads as "reset this setting"). */
type Value = string | number;
type Optional = Value | undefined;

interface HeaderView {
  readonly dropIn: string;
  readonly description: string;
}

/** container-runtime.mustache: what both containers share. */
export interface RuntimeView {
  readonly healthCmd: Value;
  readonly healthStartupCmd: Value;
  readonly healthInterval: Value;
  readonly healthTimeout: Value;
  readonly healthStartPeriod: Value;
  readonly healthRetries: Value;
  readonly healthStartupInterval: Value;
  readonly notify: Optional;
  readonly shmSize: Optional;
  readonly memory: Optional;
  readonly stopSignal: Optional;
  readonly stopTimeout: Optional;
  readonly podmanArgs: readonly Value[];
  readonly restartPreventExitStatus: Optional;
  readonly restartSec: Value;
  readonly startLimitIntervalSec: Value;
  readonly startLimitBurst: Value;
  readonly timeoutStartSec: Value;
  readonly timeoutStopSec: Value;
  readonly wantedBy: Value;
}

interface ContainerSection {
  readonly image: Value;
  readonly containerName: Value;
  readonly volumes: readonly Value[];
  readonly secrets: readonly Value[];
  readonly environment: readonly Value[];
  readonly publishPort: Value;
}

/** The data each template takes: a template gets nothing it does not print, and misses nothing. */
export interface TemplateViews {
  readonly container: HeaderView & RuntimeView & ContainerSection & { readonly network: Optional; readonly pool: Optional; readonly exec: Optional };
  readonly 'pool.container': HeaderView & RuntimeView & ContainerSection & { readonly serviceUnit: Value; readonly network: Value; readonly exec: Value };
  readonly volume: HeaderView & { readonly volumeName: Value };
  readonly network: HeaderView & { readonly networkName: Value };
  readonly 'backup.service': HeaderView & { readonly serviceUnit: Value; readonly execStart: Value };
  readonly timer: HeaderView & { readonly onCalendar: readonly Value[]; readonly randomizedDelaySec: Value };
  readonly 'update.service': HeaderView & { readonly execStart: Value; readonly timeoutStartSec: Value };
}

export type TemplateName = keyof TemplateViews;
const PARTIALS = ['header', 'container-runtime'] as const;
type Token = [type: string, value: string, start: number, end: number, children?: Token[]];

// The package resolves its own export "./units/*" (package.json), wherever this module runs from:
// the sources under tsx, the compiled library in dist/lib/, or the CLI's bundle in dist/bin/.
const unitsDir = path.dirname(createRequire(import.meta.url).resolve('pg-quadlet/units/header.mustache'));
const loaded = new Map<string, string>();

/** Reads one of the package's own template files, once per process. */
function load(name: string): string {
  let text = loaded.get(name);
  if (text === undefined) {
    text = readFileSync(path.join(unitsDir, `${name}.mustache`), 'utf8');
    loaded.set(name, text);
  }
  return text;
}

export class TemplateError extends PgQuadletError {
  override readonly name = 'TemplateError';

  constructor(message: string) {
    super('PG_QUADLET_INTERNAL', message);
  }
}

export function renderTemplate<N extends TemplateName>(name: N, view: TemplateViews[N]): string {
  const partials = Object.fromEntries(PARTIALS.map((partial) => [partial, load(partial)]));
  const template = load(name);
  assertComplete(Mustache.parse(template) as Token[], [view], name, partials);
  return Mustache.render(template, view, partials, { escape: (text: string) => text });
}

/** Walks the template as Mustache would and fails on any variable without a non-empty value. */
function assertComplete(tokens: readonly Token[], stack: readonly unknown[], template: string, partials: Record<string, string>): void {
  for (const [type, key, , , children] of tokens) {
    if (type === '>') {
      const partial = partials[key];
      if (partial === undefined) throw new TemplateError(`template ${template}: no partial {{> ${key}}}`);
      assertComplete(Mustache.parse(partial) as Token[], stack, key, partials);
      continue;
    }
    const value = lookup(stack, key);
    if (type === 'name' || type === '&') {
      if ((typeof value !== 'string' && typeof value !== 'number') || value === '') {
        throw new TemplateError(`template ${template}: no value for {{${key}}}`);
      }
    } else if (type === '#' && children) {
      const items = Array.isArray(value) ? value : value ? [value] : [];
      for (const item of items) assertComplete(children, [...stack, item], template, partials);
    } else if (type === '^' && children && !value) {
      assertComplete(children, stack, template, partials);
    }
  }
}

function lookup(stack: readonly unknown[], key: string): unknown {
  if (key === '.') return stack.at(-1);
  for (let index = stack.length - 1; index >= 0; index--) {
    const frame = stack[index];
    if (typeof frame === 'object' && frame !== null && key in frame) return (frame as Record<string, unknown>)[key];
  }
  return undefined;
}
