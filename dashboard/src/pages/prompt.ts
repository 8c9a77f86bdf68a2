// One prompt: labels (with promote / roll back), versions with content and revisions, a diff.
import { diffSection } from "../components/diff";
import { labelsSection } from "../components/labels";
import { versionsSection } from "../components/versions";
import type { PageContext } from "../context";
import { h, href } from "../dom";
import { CONTENT_FIELDS, type Prompt } from "../model";

const PROMPT = `
query Prompt($name: String!, $includeArchived: Boolean!) {
  prompt(name: $name) {
    name fqn type versionCount
    labels { name version updatedAt }
    versions(includeArchived: $includeArchived, limit: 100) {
      pagination { total }
      items {
        version ${CONTENT_FIELDS} tags labels isActive isLatest createdAt createdBy variables
        modelConfig { provider model parameters }
        revisions { ${CONTENT_FIELDS} replacedAt replacedBy }
      }
    }
  }
}`;

export async function promptPage(context: PageContext, name: string): Promise<HTMLElement> {
  const includeArchived = context.query.get("archived") === "1";
  const { prompt } = await context.api.request<{ prompt: Prompt | null }>(PROMPT, { name, includeArchived });
  if (!prompt) throw new Error(`There is no prompt named “${name}” in this workspace.`);
  return h(
    "section",
    {},
    h("p", { class: "crumbs" }, h("a", { href: href("/prompts") }, "Prompts"), " / "),
    h("h1", { tabindex: -1 }, prompt.name),
    h(
      "p",
      { class: "meta" },
      `${prompt.type} · ${prompt.versionCount} version${prompt.versionCount === 1 ? "" : "s"} · `,
      h("code", {}, prompt.fqn),
      " · ",
      h("a", { href: href(`/compare/${encodeURIComponent(prompt.name)}`) }, "Compare versions"),
    ),
    labelsSection(context, prompt),
    versionsSection(context, prompt, includeArchived),
    diffSection(prompt.versions.items, context.query),
  );
}
