// Copies the GraphiQL page's assets from node_modules (installed by `npm ci` from
// package-lock.json) into a folder, with a manifest of their versions.
// Usage: node copy-assets.mjs <target folder>
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
// [package, file inside it, name served]
const ASSETS = [
  ["react", "umd/react.production.min.js", "react.production.min.js"],
  ["react-dom", "umd/react-dom.production.min.js", "react-dom.production.min.js"],
  ["graphiql", "graphiql.min.js", "graphiql.min.js"],
  ["graphiql", "graphiql.min.css", "graphiql.min.css"],
  ["@graphiql/plugin-explorer", "dist/index.umd.js", "plugin-explorer.umd.js"],
  ["@graphiql/plugin-explorer", "dist/style.css", "plugin-explorer.css"],
];

const target = process.argv[2];
if (!target) {
  console.error("usage: node copy-assets.mjs <target folder>");
  process.exit(2);
}
rmSync(target, { recursive: true, force: true });
mkdirSync(target, { recursive: true });
const versions = {};
for (const [name, file, served] of ASSETS) {
  const root = join(modules, name);
  versions[name] = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  copyFileSync(join(root, file), join(target, served));
}
writeFileSync(
  join(target, "versions.json"),
  JSON.stringify({ versions, files: readdirSync(target).sort() }, null, 2) + "\n",
);
