// esbuild's binary loader turns a .wasm import into its bytes; Bun running
// the TypeScript sources directly gives the file's path instead.
declare module '*.wasm' {
  const bytesOrPath: Uint8Array | string;
  export default bytesOrPath;
}
