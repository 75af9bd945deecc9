import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UnitValueError, unitValue, unitWords } from '../../lib/core/unit-syntax.js';

test('plain words stay bare, and words with spaces or quotes are quoted by systemd rules', () => {
  assert.is(unitWords(['postgres', '-c', 'work_mem=8MB']), 'postgres -c work_mem=8MB');
  assert.is(unitWords(['A=has space']), '"A=has space"');
  assert.is(unitWords([`x=it's "quoted" \\ here`]), `"x=it's \\"quoted\\" \\\\ here"`);
});

test('% is escaped as a systemd specifier everywhere, $ only where systemd expands variables', () => {
  assert.is(unitValue('100% sure'), '100%% sure');
  assert.is(unitWords(['log_line_prefix=%m [%p] $HOME'], 'plain'), '"log_line_prefix=%%m [%%p] $HOME"');
  assert.is(unitWords(['y=$FOO', 'z=${BAR}'], 'command'), 'y=$$FOO "z=$${BAR}"');
});

test('a newline, carriage return, tab or other control character is never written', () => {
  for (const bad of ['a\nExecStartPre=/bin/sh', 'a\rb', 'a\tb', 'a\u0000b', 'a\u001bb', 'a\u0085b']) {
    assert.throws(() => unitValue(bad), isUnitValueError);
    assert.throws(() => unitWords(['ok', bad]), isUnitValueError);
  }
});

test('a single value that systemd would strip or continue is refused', () => {
  for (const bad of ['', ' padded', 'padded ', 'continues\\']) assert.throws(() => unitValue(bad), isUnitValueError);
  assert.throws(() => unitWords([]), isUnitValueError);
});

function isUnitValueError(error: unknown): boolean {
  return error instanceof UnitValueError;
}

test.run();
