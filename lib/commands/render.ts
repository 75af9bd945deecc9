/** `render`: the unit files of the config, printed or written into a directory. */
import path from 'node:path';
import { renderResolved, type RenderedUnit } from '../core/render.js';
import { renderOptions, type Context } from '../context.js';
import { writeFileAtomic } from '../host/atomic-file.js';

export interface RenderOptions {
  /** Write each file into this directory (atomically) instead of only returning them. */
  readonly outDir?: string;
}

/** The units, each with where it was written when a directory was given. */
export type RenderResult = Array<RenderedUnit & { readonly writtenTo?: string }>;

export async function render(context: Context, options: RenderOptions = {}): Promise<RenderResult> {
  const { outDir } = options;
  return renderResolved(context.config, renderOptions(context)).map((unit) => {
    if (outDir === undefined) return unit;
    const file = path.join(outDir, unit.fileName);
    writeFileAtomic(file, unit.content);
    return { ...unit, writtenTo: file };
  });
}

/** For people: each file under its name, or where it was written. */
export function formatRender(result: RenderResult): string {
  return result.map((unit) => (unit.writtenTo ? `wrote ${unit.writtenTo}` : `==> ${unit.fileName} <==\n${unit.content}`)).join('\n');
}
