/**
 * Assembles src/image/wasm/unfilter.wat into src/image/wasm/unfilter-wasm.ts
 * (the module's bytes as base64, so it loads synchronously on Bun, Deno and
 * Node, from sources and from the bundle alike).
 *
 * Run after changing the .wat: `bun scripts/gen-unfilter-wasm.ts`. Needs
 * wat2wasm (Debian: apt-get install wabt). test/image/unfilter-wasm.test.ts
 * checks that the committed file matches the .wat.
 */
import { writeFileSync } from 'node:fs';
import { assembleUnfilterWasm, UNFILTER_WASM_TS } from './unfilter-wasm-source.ts';

const out = assembleUnfilterWasm();
if (typeof out !== 'string') {
  console.error(`gen-unfilter-wasm: ${out.error}`);
  process.exit(1);
}
writeFileSync(UNFILTER_WASM_TS, out);
console.log(`wrote ${UNFILTER_WASM_TS}`);
