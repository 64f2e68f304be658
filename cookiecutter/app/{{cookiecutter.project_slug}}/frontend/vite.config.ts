import { defineConfig } from "vite";

// The built page is served from the app's own app:// origin under the strict Content
// Security Policy, and in `ramparts dev` the dev server's page is too.
export default defineConfig({
  // Relative asset URLs: the page is not at the root of an http:// site.
  base: "./",
  server: {
    host: "127.0.0.1",
    port: 5173,
    // [tool.ramparts.dev] url names this port: another one would be a page nobody loads.
    strictPort: true,
    // The page's origin is app://, not the dev server's, so hot reload must be told
    // where to connect.
    hmr: { protocol: "ws", host: "127.0.0.1", port: 5173 },
  },
  build: {
    outDir: "dist",
    // The CSP refuses data: URLs: every asset stays a file of its own.
    assetsInlineLimit: 0,
  },
});
