// A prompt's labels, and for keys that may write: move a label (promote to a newer version,
// roll back to an older one) or set a new one. Each is `setLabel` (contract section 3).
import { errorBox } from "./errors";
import type { PageContext } from "../context";
import { h } from "../dom";
import { when } from "../format";
import type { Label, Prompt, Version } from "../model";
import { mayWritePrompt } from "../permissions";

const SET_LABEL = `
mutation SetLabel($name: String!, $label: String!, $version: Int!) {
  setLabel(name: $name, label: $label, version: $version) { version labels }
}`;

function moveText(label: Label, target: number): string {
  if (target === label.version) return `Move ${label.name}`;
  return `${target > label.version ? "Promote" : "Roll back"} ${label.name} to v${target}`;
}

async function setLabel(context: PageContext, prompt: Prompt, label: string, version: number, problem: HTMLElement): Promise<void> {
  problem.replaceChildren();
  try {
    await context.api.request(SET_LABEL, { name: prompt.name, label, version });
    context.announce(`${label} now points to v${version}.`);
    context.refresh();
  } catch (error) {
    problem.replaceChildren(errorBox(error));
  }
}

function moveForm(context: PageContext, prompt: Prompt, label: Label, active: Version[]): HTMLElement {
  const id = `move-${label.name}`;
  const select = h("select", { id, name: "version" }, active.map((version) => h("option", { value: version.version, selected: version.version === label.version }, `v${version.version}`)));
  const button = h("button", { type: "submit" });
  const problem = h("div");
  const update = () => {
    const target = Number(select.value);
    button.textContent = moveText(label, target);
    button.disabled = target === label.version;
  };
  select.addEventListener("change", update);
  update();
  const form = h("form", { class: "inline" }, h("label", { for: id, class: "visually-hidden" }, `Version for ${label.name}`), select, button, problem);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void setLabel(context, prompt, label.name, Number(select.value), problem);
  });
  return form;
}

function newLabelForm(context: PageContext, prompt: Prompt, active: Version[]): HTMLElement {
  const name = h("input", { id: "new-label", name: "label", required: true, pattern: "[a-z0-9][a-z0-9._\\-]{0,62}", placeholder: "staging" });
  const select = h("select", { id: "new-label-version", name: "version" }, active.map((version) => h("option", { value: version.version }, `v${version.version}`)));
  const problem = h("div");
  const form = h(
    "form",
    { class: "filters" },
    h("div", {}, h("label", { for: "new-label" }, "New label"), name),
    h("div", {}, h("label", { for: "new-label-version" }, "On version"), select),
    h("button", { type: "submit" }, "Set label"),
    problem,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void setLabel(context, prompt, name.value.trim(), Number(select.value), problem);
  });
  return form;
}

export function labelsSection(context: PageContext, prompt: Prompt): HTMLElement {
  const writable = mayWritePrompt(context.viewer);
  const active = prompt.versions.items.filter((version) => version.isActive);
  return h(
    "section",
    { class: "panel", "aria-labelledby": "labels-title" },
    h("h2", { id: "labels-title" }, "Labels"),
    prompt.labels.length
      ? h(
          "div",
          { class: "scroll" },
          h(
            "table",
            { class: "labels-table" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Label"), h("th", { scope: "col" }, "Version"), h("th", { scope: "col" }, "Moved"), writable ? h("th", { scope: "col" }, "Move") : null)),
            h(
              "tbody",
              {},
              prompt.labels.map((label) =>
                h(
                  "tr",
                  { "data-label": label.name },
                  h("th", { scope: "row" }, label.name),
                  h("td", {}, `v${label.version}`),
                  h("td", {}, when(label.updatedAt)),
                  writable ? h("td", {}, moveForm(context, prompt, label, active)) : null,
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "empty" }, "No labels yet."),
    writable && active.length ? newLabelForm(context, prompt, active) : null,
  );
}
