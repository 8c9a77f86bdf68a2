// A diff of any two contents of a prompt: versions and the revisions they replaced.
import { diffLines } from "diff";
import { h, replace } from "../dom";
import { contentText, type Content, type Version } from "../model";

interface Choice {
  id: string;
  title: string;
  content: Content;
}

function choices(versions: Version[]): Choice[] {
  return versions.flatMap((version) => [
    { id: `v${version.version}`, title: `v${version.version}${version.isActive ? "" : " (archived)"}`, content: version },
    ...version.revisions.map((revision, index) => ({
      id: `v${version.version}r${index}`,
      title: `v${version.version}, as before ${revision.replacedAt.slice(0, 19).replace("T", " ")} (revision by ${revision.replacedBy})`,
      content: revision,
    })),
  ]);
}

function diffView(from: Choice, to: Choice): HTMLElement {
  const parts = diffLines(contentText(from.content), contentText(to.content));
  const unchanged = parts.every((part) => !part.added && !part.removed);
  return h(
    "div",
    {},
    h("p", { class: "diff-summary" }, unchanged ? `${from.title} and ${to.title} have the same content.` : `From ${from.title} to ${to.title}:`),
    h(
      "pre",
      { class: "diff", tabindex: 0, "aria-label": `Differences from ${from.title} to ${to.title}` },
      parts.map((part) => {
        const lines = part.value.replace(/\n$/, "").split("\n");
        const mark = part.added ? "+ " : part.removed ? "- " : "  ";
        const text = lines.map((line) => `${mark}${line}\n`).join("");
        return part.added ? h("ins", {}, text) : part.removed ? h("del", {}, text) : h("span", {}, text);
      }),
    ),
  );
}

export function diffSection(versions: Version[], query: URLSearchParams): HTMLElement | null {
  const options = choices(versions);
  if (options.length < 2) return null;
  const pick = (name: string, fallback: Choice): Choice => options.find((choice) => choice.id === query.get(name)) ?? fallback;
  let from = pick("from", options[1]);
  let to = pick("to", options[0]);
  const select = (id: string, label: string, selected: Choice, onChange: (choice: Choice) => void) => {
    const element = h("select", { id }, options.map((choice) => h("option", { value: choice.id, selected: choice.id === selected.id }, choice.title)));
    element.addEventListener("change", () => onChange(options.find((choice) => choice.id === element.value) as Choice));
    return h("div", {}, h("label", { for: id }, label), element);
  };
  const output = h("div", { "aria-live": "polite" }, diffView(from, to));
  return h(
    "section",
    { class: "panel", "aria-labelledby": "diff-title" },
    h("h2", { id: "diff-title" }, "Diff"),
    h(
      "div",
      { class: "filters" },
      select("diff-from", "From", from, (choice) => {
        from = choice;
        replace(output, diffView(from, to));
      }),
      select("diff-to", "To", to, (choice) => {
        to = choice;
        replace(output, diffView(from, to));
      }),
    ),
    output,
  );
}
