// The dashboard's shell: sign-in, the header and the hash router that renders each page.
import { Api, ApiError, type Viewer } from "./api";
import { errorBox } from "./components/errors";
import { destroyCharts } from "./components/charts";
import type { PageContext } from "./context";
import { h, href, replace } from "./dom";
import { comparePage } from "./pages/compare";
import { promptPage } from "./pages/prompt";
import { promptsPage } from "./pages/prompts";
import { signInPage } from "./pages/signin";
import { forgetKey, storeKey, storedKey } from "./session";

type Page = (context: PageContext, ...parts: string[]) => Promise<HTMLElement>;

const ROUTES: [RegExp, Page][] = [
  [/^\/(?:prompts)?$/, promptsPage],
  [/^\/prompt\/([^/]+)$/, promptPage],
  [/^\/compare\/([^/]+)$/, comparePage],
];

const root = document.getElementById("app") as HTMLElement;
const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
let session: { api: Api; viewer: Viewer } | null = null;

function announce(message: string): void {
  status.textContent = "";
  window.setTimeout(() => (status.textContent = message), 50);
}

function signOut(reason?: string): void {
  forgetKey();
  session = null;
  void render(reason);
}

async function signIn(key: string): Promise<void> {
  const api = new Api(key);
  const viewer = await api.viewer(); // a wrong key throws UNAUTHENTICATED here
  storeKey(key);
  session = { api, viewer };
  if (!window.location.hash || window.location.hash === "#") window.location.hash = href("/prompts");
  else await render();
}

function header(viewer: Viewer): HTMLElement {
  return h(
    "header",
    { class: "top" },
    h("a", { class: "brand", href: href("/prompts") }, "promptgraph"),
    h(
      "div",
      { class: "who" },
      h("span", {}, `${viewer.user} @ ${viewer.workspace} `, h("span", { class: "role" }, viewer.role)),
      h("button", { type: "button", onclick: () => signOut() }, "Sign out"),
    ),
  );
}

function route(): { page: Page; parts: string[]; query: URLSearchParams } | null {
  const [path, search = ""] = window.location.hash.replace(/^#/, "").split("?", 2);
  for (const [pattern, page] of ROUTES) {
    const match = pattern.exec(path || "/");
    if (match) return { page, parts: match.slice(1).map(decodeURIComponent), query: new URLSearchParams(search) };
  }
  return null;
}

async function render(notice?: string): Promise<void> {
  destroyCharts();
  if (!session) {
    const key = storedKey();
    if (key) {
      try {
        session = { api: new Api(key), viewer: await new Api(key).viewer() };
      } catch (error) {
        forgetKey();
        replace(root, signInPage(signIn, error instanceof ApiError ? error.message : String(error)));
        return;
      }
    } else {
      replace(root, signInPage(signIn, notice));
      return;
    }
  }
  const { api, viewer } = session;
  const main = h("main", { id: "main" }, h("p", { class: "loading" }, "Loading…"));
  replace(root, h("a", { class: "skip", href: "#main", onclick: skipToMain }, "Skip to content"), header(viewer), status, main);
  const target = route();
  const context: PageContext = { api, viewer, query: target?.query ?? new URLSearchParams(), announce, refresh: () => void render() };
  let content: HTMLElement;
  try {
    if (!target) throw new Error(`There is no page at ${window.location.hash}.`);
    content = await target.page(context, ...target.parts);
  } catch (error) {
    if (error instanceof ApiError && error.code === "UNAUTHENTICATED") {
      signOut(error.message);
      return;
    }
    content = h("section", {}, h("h1", { tabindex: -1 }, "This page could not be shown"), errorBox(error), h("p", {}, h("a", { href: href("/prompts") }, "Back to the prompts")));
  }
  replace(main, content);
  if (!document.activeElement || document.activeElement === document.body || !root.contains(document.activeElement)) {
    main.querySelector<HTMLElement>("h1")?.focus({ preventScroll: true });
  }
}

function skipToMain(event: Event): void {
  event.preventDefault();
  document.getElementById("main")?.querySelector<HTMLElement>("h1")?.focus();
}

window.addEventListener("hashchange", () => void render());
window.addEventListener("unhandledrejection", (event) => {
  root.prepend(errorBox(event.reason));
});
void render();
