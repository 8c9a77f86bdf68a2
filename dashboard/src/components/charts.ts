// Charts (Chart.js) always come with their figures in a table: the chart is the picture, the
// table its text alternative, both drawn from the same rows.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { h } from "../dom";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip, Legend);
Chart.defaults.animation = false;
Chart.defaults.maintainAspectRatio = false;
Chart.defaults.font.family = "system-ui, sans-serif";

export const PALETTE = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7b83", "#57606a"];

const live: Chart[] = [];

export function destroyCharts(): void {
  while (live.length) live.pop()?.destroy();
}

export interface Column<Row> {
  title: string;
  cell(row: Row): string;
}

export function figureTable<Row>(caption: string | Node, columns: Column<Row>[], rows: Row[], rowHeader: (row: Row) => string): HTMLElement {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "figures" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col" }, column.title)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { "data-row": rowHeader(row) },
            columns.map((column, index) => (index === 0 ? h("th", { scope: "row" }, column.cell(row)) : h("td", {}, column.cell(row)))),
          ),
        ),
      ),
    ),
  );
}

/** A chart and, beside it, the table of the figures it draws. */
export function chartFigure(title: string, config: ChartConfiguration, table: HTMLElement, id: string): HTMLElement {
  const canvas = h("canvas", { role: "img", "aria-label": `${title}: chart; the figures are in the table that follows it.` });
  const chart = new Chart(canvas, config);
  live.push(chart);
  return h("figure", { class: "chart", id }, h("figcaption", {}, title), h("div", { class: "canvas" }, canvas), table);
}
