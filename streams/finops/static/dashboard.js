// spendwatch dashboard: draws /v1/reports/dashboard and /v1/alerts, refreshed every few seconds.
// Amounts arrive as exact decimal strings; they are parsed to numbers only to draw and display.
"use strict";
const REFRESH_MS = 5000;
const COLORS = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04",
                "#db2777", "#4b5563", "#65a30d"];
const charts = {};

function usd(text, places = 2) {
  if (text === null || text === undefined) return "";
  return "$" + Number(text).toLocaleString("en-US",
    { minimumFractionDigits: places, maximumFractionDigits: places });
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text;
  return td;
}

function fillTable(id, rows) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows.map(({ key, cells }) => {
    const tr = document.createElement("tr");
    if (key !== undefined) tr.dataset.key = key;
    for (const c of cells) tr.appendChild(c instanceof Node ? c : cell(c));
    return tr;
  }));
}

function drawChart(id, config) {
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].update("none");
  } else {
    charts[id] = new Chart(document.getElementById(id), config);
  }
}

function burnBar(line) {
  const td = document.createElement("td");
  const bar = document.createElement("div");
  bar.className = "bar";
  const fill = document.createElement("span");
  const share = line.budget_usd ? Number(line.mtd_usd) / Number(line.budget_usd) : 0;
  fill.style.width = Math.min(100, share * 100).toFixed(1) + "%";
  if (line.status === "over" || line.status === "at risk") bar.classList.add("over");
  bar.title = line.budget_usd ? `${(share * 100).toFixed(1)}% of budget` : "no budget";
  bar.appendChild(fill);
  td.appendChild(bar);
  return td;
}

function render(data) {
  document.getElementById("month-total").textContent = usd(data.month.total_usd);
  document.getElementById("month-calls").textContent = data.month.calls.toLocaleString("en-US");
  const teams = Object.keys(data.spend_by_team);
  drawChart("spend-chart", {
    type: "bar",
    data: {
      labels: data.days,
      datasets: teams.map((team, i) => ({
        label: team, data: data.spend_by_team[team].map(Number),
        backgroundColor: COLORS[i % COLORS.length], stack: "spend",
      })),
    },
    options: { animation: false, responsive: true,
               scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "USD" } } } },
  });
  fillTable("budgets", Object.entries(data.budgets).map(([team, line]) => ({
    key: team,
    cells: [team, usd(line.mtd_usd), usd(line.forecast_month_end_usd),
            line.budget_usd ? usd(line.budget_usd) : "none", burnBar(line)],
  })));
  fillTable("top-keys", data.top_keys.map((k) => ({
    key: k.api_key_id, cells: [k.api_key_id, usd(k.cost_usd), k.calls.toLocaleString("en-US")] })));
  fillTable("top-models", data.top_models.map((m) => ({
    key: m.model, cells: [m.model, usd(m.cost_usd), m.calls.toLocaleString("en-US")] })));
  drawChart("unit-chart", {
    type: "line",
    data: { labels: data.days, datasets: [{ label: "cost per call (USD)",
            data: data.cost_per_call_usd.map((v) => (v === null ? null : Number(v))),
            borderColor: COLORS[0], spanGaps: true }] },
    options: { animation: false, responsive: true },
  });
  fillTable("unit-trend", data.unit_cost_trend.map((u) => ({
    key: u.period,
    cells: [u.period, usd(u.cost_per_call_usd, 6),
            Object.entries(u.cost_per_unit_usd).map(([n, v]) => `${n}: ${usd(v, 6)}`).join("; ")],
  })));
}

function renderAlerts(alerts) {
  const list = document.getElementById("alerts");
  if (!alerts.length) {
    const li = document.createElement("li");
    li.textContent = "No active or recent alerts";
    list.replaceChildren(li);
    return;
  }
  list.replaceChildren(...alerts.map((a) => {
    const li = document.createElement("li");
    li.textContent = `${a.state || ""} ${a.severity || ""} ${a.title || a.summary || a.id || ""}`.trim();
    return li;
  }));
}

async function loadAlerts() {
  try {
    const resp = await fetch("/v1/alerts");
    if (!resp.ok) return [];
    const body = await resp.json();
    return Array.isArray(body) ? body : body.alerts || [];
  } catch (err) {
    return [];
  }
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const resp = await fetch("/v1/reports/dashboard" + window.location.search);
    if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
    render(await resp.json());
    renderAlerts(await loadAlerts());
    status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "true";
  } catch (err) {
    status.textContent = "update failed: " + err.message;
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
