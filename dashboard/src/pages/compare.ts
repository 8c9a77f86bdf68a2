// The comparison of a prompt's versions (comparePromptVersions, plus p50 from each version's
// metrics) and each version's metrics series over time.
import { chartFigure, figureTable, PALETTE, type Column } from "../components/charts";
import type { PageContext } from "../context";
import { h, href } from "../dom";
import { dash, dollars, interval, milliseconds, pValue, percent } from "../format";
import { seriesSection } from "../components/series";

const COMPARE = `
query Compare($name: String!, $baseline: Int) {
  comparePromptVersions(name: $name, baseline: $baseline) {
    name baselineVersion
    versions {
      version totalTraces successRate avgCostUsd avgLatencyMs p95LatencyMs
      successRateCi95 { low high } successRatePValue isBaseline
    }
  }
  prompt(name: $name) {
    name
    labels { name version }
    versions(includeArchived: true, limit: 100) { items { version isActive metrics { p50LatencyMs } } }
  }
}`;

export interface ComparedVersion {
  version: number;
  totalTraces: number;
  successRate: number | null;
  avgCostUsd: number | null;
  avgLatencyMs: number | null;
  p95LatencyMs: number | null;
  successRateCi95: { low: number; high: number } | null;
  successRatePValue: number | null;
  isBaseline: boolean;
  p50LatencyMs: number | null;
  labels: string[];
}

interface CompareData {
  comparePromptVersions: { name: string; baselineVersion: number | null; versions: Omit<ComparedVersion, "p50LatencyMs" | "labels">[] };
  prompt: { name: string; labels: { name: string; version: number }[]; versions: { items: { version: number; isActive: boolean; metrics: { p50LatencyMs: number | null } }[] } } | null;
}

const title = (row: ComparedVersion): string => `v${row.version}${row.labels.length ? ` (${row.labels.join(", ")})` : ""}`;

const COLUMNS: Column<ComparedVersion>[] = [
  { title: "Version", cell: title },
  { title: "Baseline", cell: (row) => (row.isBaseline ? "baseline" : "") },
  { title: "Traces", cell: (row) => String(row.totalTraces) },
  { title: "Success rate", cell: (row) => percent(row.successRate) },
  { title: "95% interval", cell: (row) => interval(row.successRateCi95) },
  { title: "p-value vs baseline", cell: (row) => (row.isBaseline ? "baseline" : pValue(row.successRatePValue)) },
  { title: "p50 latency", cell: (row) => milliseconds(row.p50LatencyMs) },
  { title: "p95 latency", cell: (row) => milliseconds(row.p95LatencyMs) },
  { title: "Avg latency", cell: (row) => milliseconds(row.avgLatencyMs) },
  { title: "Avg cost", cell: (row) => dollars(row.avgCostUsd) },
];

function pick<Row>(columns: Column<Row>[], ...titles: string[]): Column<Row>[] {
  return columns.filter((column, index) => index === 0 || titles.includes(column.title));
}

function charts(rows: ComparedVersion[]): HTMLElement {
  const labels = rows.map(title);
  const table = (caption: string, ...titles: string[]) => figureTable(caption, pick(COLUMNS, ...titles), rows, title);
  const bar = (label: string, data: (number | null)[], color: string) => ({ label, data, backgroundColor: color });
  const percentAxis = { y: { min: 0, max: 100, title: { display: true, text: "%" } } };
  return h(
    "div",
    { class: "charts" },
    chartFigure(
      "Success rate, with its 95% interval",
      {
        type: "bar",
        data: {
          labels,
          datasets: [
            // Drawn under the interval (a higher order is drawn first), so the interval shows.
            { ...bar("Success rate (%)", rows.map((row) => (row.successRate === null ? null : row.successRate * 100)), "rgba(31, 111, 235, 0.55)"), order: 1 },
            {
              label: "95% interval (%)",
              data: rows.map((row) => (row.successRateCi95 ? [row.successRateCi95.low * 100, row.successRateCi95.high * 100] : null)) as unknown as number[],
              backgroundColor: "rgba(9, 64, 140, 0.35)",
              borderColor: "#09408c",
              borderWidth: 2,
              order: 0,
              grouped: false,
              barPercentage: 0.35,
            },
          ],
        },
        options: { scales: percentAxis },
      },
      table("Success rate by version", "Baseline", "Success rate", "95% interval", "p-value vs baseline"),
      "chart-success",
    ),
    chartFigure(
      "Latency: p50 and p95",
      {
        type: "bar",
        data: { labels, datasets: [bar("p50 (ms)", rows.map((row) => row.p50LatencyMs), PALETTE[2]), bar("p95 (ms)", rows.map((row) => row.p95LatencyMs), PALETTE[3])] },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: "ms" } } } },
      },
      table("Latency by version", "p50 latency", "p95 latency", "Avg latency"),
      "chart-latency",
    ),
    chartFigure(
      "Average cost",
      { type: "bar", data: { labels, datasets: [bar("Avg cost (USD)", rows.map((row) => row.avgCostUsd), PALETTE[4])] }, options: { scales: { y: { beginAtZero: true } } } },
      table("Average cost by version", "Avg cost"),
      "chart-cost",
    ),
    chartFigure(
      "Traces",
      { type: "bar", data: { labels, datasets: [bar("Traces", rows.map((row) => row.totalTraces), PALETTE[6])] }, options: { scales: { y: { beginAtZero: true } } } },
      table("Traces by version", "Traces"),
      "chart-traces",
    ),
  );
}

export async function comparePage(context: PageContext, name: string): Promise<HTMLElement> {
  const baselineParameter = context.query.get("baseline");
  const data = await context.api.request<CompareData>(COMPARE, { name, baseline: baselineParameter ? Number(baselineParameter) : null });
  if (!data.prompt) throw new Error(`There is no prompt named “${name}” in this workspace.`);
  const { prompt } = data;
  const comparison = data.comparePromptVersions;
  const rows: ComparedVersion[] = comparison.versions.map((row) => ({
    ...row,
    p50LatencyMs: prompt.versions.items.find((version) => version.version === row.version)?.metrics.p50LatencyMs ?? null,
    labels: prompt.labels.filter((label) => label.version === row.version).map((label) => label.name),
  }));

  const baseline = h(
    "select",
    { id: "baseline" },
    rows.map((row) => h("option", { value: row.version, selected: row.version === comparison.baselineVersion }, title(row))),
  );
  baseline.addEventListener("change", () => {
    window.location.hash = href(`/compare/${encodeURIComponent(prompt.name)}`, { ...Object.fromEntries(context.query.entries()), baseline: baseline.value });
  });

  return h(
    "section",
    {},
    h("p", { class: "crumbs" }, h("a", { href: href("/prompts") }, "Prompts"), " / ", h("a", { href: href(`/prompt/${encodeURIComponent(prompt.name)}`) }, prompt.name), " / "),
    h("h1", { tabindex: -1 }, `Compare ${prompt.name}`),
    h(
      "div",
      { class: "filters" },
      h("div", {}, h("label", { for: "baseline" }, "Baseline"), baseline),
      h("p", { class: "meta" }, `Baseline: ${comparison.baselineVersion === null ? dash : `v${comparison.baselineVersion}`}. All traces so far; the p-value is the two-proportion z-test of each version's success rate against the baseline's.`),
    ),
    rows.length ? [charts(rows), h("section", { class: "panel", "aria-labelledby": "all-figures" }, h("h2", { id: "all-figures" }, "All figures"), figureTable("Every version's figures", COLUMNS, rows, title))] : h("p", { class: "empty" }, "No versions to compare."),
    await seriesSection(context, prompt.name, prompt.versions.items.map((version) => version.version)),
  );
}
