import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { assembleWasm, wasmModule } from '../../scripts/wasm-source.ts';

const haveWat2wasm = !spawnSync('wat2wasm', ['--version']).error;

/** The test that a committed NAME-wasm.ts is what src/image/wasm/NAME.wat assembles to (skipped without wat2wasm). */
export function describeCommittedModule(name: string, title: string): void {
  describe(title, () => {
    it(`is what ${name}.wat assembles to (bun scripts/gen-wasm.ts)`, { skip: !haveWat2wasm && 'wat2wasm is not installed (apt-get install wabt)' }, () => {
      const text = assembleWasm(name);
      assert.equal(typeof text, 'string', JSON.stringify(text));
      assert.equal(readFileSync(wasmModule(name).ts, 'utf8'), text);
    });
  });
}
