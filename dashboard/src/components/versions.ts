// A prompt's versions: content, tags, labels, revisions; archive and restore for writers.
import { errorBox } from "./errors";
import type { PageContext } from "../context";
import { h, href } from "../dom";
import { when } from "../format";
import { contentText, type Prompt, type Version } from "../model";
import { mayWritePrompt } from "../permissions";

const ARCHIVE = `
mutation Archive($name: String!, $version: Int!, $archived: Boolean!) {
  archivePromptVersion(name: $name, version: $version, archived: $archived) { version isActive }
}`;

function archiveButton(context: PageContext, prompt: Prompt, version: Version): HTMLElement {
  const archived = !version.isActive;
  const problem = h("div");
  const button = h("button", { type: "button" }, archived ? `Restore v${version.version}` : `Archive v${version.version}`);
  button.addEventListener("click", async () => {
    problem.replaceChildren();
    try {
      await context.api.request(ARCHIVE, { name: prompt.name, version: version.version, archived: !archived });
      context.announce(`v${version.version} ${archived ? "restored" : "archived"}.`);
      context.refresh();
    } catch (error) {
      problem.replaceChildren(errorBox(error));
    }
  });
  return h("div", { class: "actions" }, button, problem);
}

function versionCard(context: PageContext, prompt: Prompt, version: Version): HTMLElement {
  return h(
    "article",
    { class: `version${version.isActive ? "" : " archived"}`, id: `v${version.version}`, "aria-labelledby": `v${version.version}-title` },
    h(
      "h3",
      { id: `v${version.version}-title` },
      `v${version.version}`,
      version.isLatest ? h("span", { class: "label" }, "latest") : null,
      version.labels.map((label) => h("span", { class: "label" }, label)),
      version.isActive ? null : h("span", { class: "label muted" }, "archived"),
    ),
    h(
      "p",
      { class: "meta" },
      `${when(version.createdAt)} by ${version.createdBy}`,
      version.modelConfig ? ` · ${[version.modelConfig.provider, version.modelConfig.model].filter(Boolean).join("/")}` : "",
      version.variables.length ? ` · variables: ${version.variables.join(", ")}` : "",
    ),
    version.tags.length ? h("p", { class: "tags" }, "Tags: ", version.tags.map((tag) => h("a", { class: "tag", href: href("/prompts", { tag }) }, tag))) : null,
    h("pre", { class: "content", tabindex: 0, "aria-label": `Content of v${version.version}` }, contentText(version)),
    version.revisions.length
      ? h(
          "details",
          {},
          h("summary", {}, `${version.revisions.length} earlier content${version.revisions.length > 1 ? "s" : ""} (revisions)`),
          version.revisions.map((revision) =>
            h("div", { class: "revision" }, h("p", { class: "meta" }, `Replaced ${when(revision.replacedAt)} by ${revision.replacedBy}`), h("pre", { class: "content" }, contentText(revision))),
          ),
        )
      : null,
    mayWritePrompt(context.viewer) ? archiveButton(context, prompt, version) : null,
  );
}

export function versionsSection(context: PageContext, prompt: Prompt, includeArchived: boolean): HTMLElement {
  const { items, pagination } = prompt.versions;
  const toggle = h(
    "a",
    { href: href(`/prompt/${encodeURIComponent(prompt.name)}`, { archived: includeArchived ? undefined : "1" }) },
    includeArchived ? "Hide archived versions" : "Show archived versions",
  );
  return h(
    "section",
    { class: "panel", "aria-labelledby": "versions-title" },
    h("h2", { id: "versions-title" }, "Versions"),
    h("p", {}, toggle, pagination.total > items.length ? ` · showing the newest ${items.length} of ${pagination.total}` : ""),
    items.map((version) => versionCard(context, prompt, version)),
  );
}
