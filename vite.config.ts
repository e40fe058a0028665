import { defineConfig } from "vite";

// The desk UI lives in ui/; Tauri serves ui/dist in production builds and
// the dev server on port 1420 under `tauri dev`.
export default defineConfig({
  root: "ui",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { outDir: "dist", emptyOutDir: true, target: "safari16" },
  test: {
    root: ".",
    include: ["ui/src/**/*.test.ts"],
    environment: "jsdom",
  },
});
