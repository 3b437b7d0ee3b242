// Vite configuration for PrintScout's web UI (ui/ → ui/dist).
// `base: './'` keeps every asset URL relative, so the same build works when
// the loopback API serves it at http://127.0.0.1:PORT/ and inside the Tauri
// webview at tauri://localhost/. Everything is bundled: no CDN, no web fonts,
// no inline scripts (the API's CSP is `script-src 'self'`).
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  publicDir: false,
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2021',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 300,
  },
  server: { host: '127.0.0.1', strictPort: true, port: 5173 },
});
