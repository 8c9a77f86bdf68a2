// The workspace's prompts: search, tag filter, pages; labels and latest version at a glance.
import { pager, type Pagination } from "../components/pager";
import type { PageContext } from "../context";
import { h, href } from "../dom";
import { when } from "../format";

const PAGE_SIZE = 20;

const PROMPTS = `
query Prompts($search: String, $tag: String, $offset: Int!, $limit: Int!) {
  prompts(search: $search, tag: $tag, offset: $offset, limit: $limit) {
    pagination { total offset limit }
    items {
      name type versionCount updatedAt
      labels { name version }
      latestVersion { version description tags createdAt }
    }
  }
}`;

interface PromptRow {
  name: string;
  type: string;
  versionCount: number;
  updatedAt: string;
  labels: { name: string; version: number }[];
  latestVersion: { version: number; description: string | null; tags: string[]; createdAt: string } | null;
}

export async function promptsPage(context: PageContext): Promise<HTMLElement> {
  const search = context.query.get("search") ?? "";
  const tag = context.query.get("tag") ?? "";
  const offset = Math.max(0, Number(context.query.get("offset") ?? 0) || 0);
  const data = await context.api.request<{ prompts: { items: PromptRow[]; pagination: Pagination } }>(PROMPTS, {
    search: search || null,
    tag: tag || null,
    offset,
    limit: PAGE_SIZE,
  });
  const { items, pagination } = data.prompts;

  const searchInput = h("input", { id: "search", name: "search", type: "search", value: search });
  const tagInput = h("input", { id: "tag", name: "tag", type: "text", value: tag });
  const form = h(
    "form",
    { class: "filters", role: "search" },
    h("div", {}, h("label", { for: "search" }, "Search names"), searchInput),
    h("div", {}, h("label", { for: "tag" }, "Tag"), tagInput),
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.location.hash = href("/prompts", { search: searchInput.value.trim(), tag: tagInput.value.trim() });
  });

  const rows = items.map((prompt) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, h("a", { href: href(`/prompt/${encodeURIComponent(prompt.name)}`) }, prompt.name)),
      h("td", {}, prompt.type),
      h("td", { class: "labels" }, prompt.labels.map((label) => h("span", { class: "label" }, `${label.name} → v${label.version}`))),
      h(
        "td",
        {},
        prompt.latestVersion
          ? [`v${prompt.latestVersion.version}`, prompt.latestVersion.description ? ` · ${prompt.latestVersion.description}` : ""]
          : "none active",
      ),
      h("td", { class: "tags" }, (prompt.latestVersion?.tags ?? []).map((name) => h("a", { class: "tag", href: href("/prompts", { tag: name }) }, name))),
      h("td", {}, String(prompt.versionCount)),
      h("td", {}, when(prompt.updatedAt)),
      h("td", {}, h("a", { href: href(`/compare/${encodeURIComponent(prompt.name)}`) }, "Compare")),
    ),
  );
  const filtered = search || tag ? ` matching ${[search && `“${search}”`, tag && `tag “${tag}”`].filter(Boolean).join(" and ")}` : "";
  return h(
    "section",
    {},
    h("h1", { tabindex: -1 }, "Prompts"),
    form,
    items.length
      ? h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { class: "prompts" },
            h("caption", {}, `Prompts${filtered}`),
            h("thead", {}, h("tr", {}, ["Name", "Type", "Labels", "Latest version", "Latest tags", "Versions", "Updated", "Analytics"].map((title) => h("th", { scope: "col" }, title)))),
            h("tbody", {}, rows),
          ),
        )
      : h("p", { class: "empty" }, `No prompts${filtered}.`),
    pager("/prompts", context.query, pagination),
  );
}
