/**
 * Assembles every src/image/wasm/NAME.wat into NAME-wasm.ts (see
 * wasm-source.ts). Run after changing a .wat: `bun scripts/gen-wasm.ts`.
 * Needs wat2wasm (Debian: apt-get install wabt). The tests of each module
 * check that the committed file matches its .wat.
 */
import { writeFileSync } from 'node:fs';
import { assembleWasm, WASM_MODULES } from './wasm-source.ts';

for (const m of WASM_MODULES) {
  const out = assembleWasm(m.name);
  if (typeof out !== 'string') {
    console.error(`gen-wasm: ${m.name}.wat: ${out.error}`);
    process.exit(1);
  }
  writeFileSync(m.ts, out);
  console.log(`wrote ${m.ts}`);
}
