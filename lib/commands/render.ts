import path from 'node:path';
import type { PostgresServiceInput } from '../config.js';
import { writeFileAtomic } from '../atomic-file.js';
import { renderUnits, type RenderedUnit } from '../render.js';

export interface RenderResult {
  readonly units: RenderedUnit[];
  /** Files written, when a directory was given. */
  readonly written: string[];
}

/** Renders the units and, given a directory, writes each one there atomically. */
export function renderToDirectory(config: PostgresServiceInput, outDir?: string): RenderResult {
  const units = renderUnits(config);
  if (outDir === undefined) return { units, written: [] };
  const written = units.map((unit) => {
    const file = path.join(outDir, unit.fileName);
    writeFileAtomic(file, unit.content);
    return file;
  });
  return { units, written };
}
