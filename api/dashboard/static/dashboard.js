// The dashboard's one script: signs in with an API key, asks /graphql for programMetrics
// and draws the charts (Chart.js, served beside this file). Every figure comes from the
// API as it is; nothing is computed here but the labels.
"use strict";

const QUERY = `query($from: Date!, $to: Date!) {
  programMetrics(from: $from, to: $to) {
    errors { field code message }
    metrics {
      currency
      overall { orders customers revenue { amount } averageOrderValue { amount } netPromoterScore
                retentionRate churnRate repeatPurchaseRate purchaseFrequency
                historicLifetimeValue { amount } predictedLifetimeValue { amount }
                pointsEarned pointsRedeemed redemptionRate neverRedeemedShare members newEnrolments
                activeMemberRate engagement outstandingPoints pointsLiability { amount } }
      byMonth { key metrics { pointsEarned pointsRedeemed netPromoterScore } }
      byTier { key metrics { members revenue { amount } } }
      byCohort { key metrics { retentionRate } }
      acquisition { marketingSpend { amount } customerAcquisitionCost { amount } }
    }
  }
}`;

const KEY = "loyalty.dashboard.key";
const charts = {};

function fragment() {
  // #key=...&from=YYYY-MM-DD&to=YYYY-MM-DD: never sent to the server; removed once read.
  const params = new URLSearchParams(location.hash.slice(1));
  if (location.hash) history.replaceState(null, "", location.pathname);
  return params;
}

function defaultRange() {
  const to = new Date();
  const from = new Date(Date.UTC(to.getUTCFullYear() - 1, to.getUTCMonth() + 1, 1));
  return [from.toISOString().slice(0, 10), to.toISOString().slice(0, 10)];
}

async function metrics(key, from, to) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: QUERY, variables: { from, to } }),
  });
  if (response.status === 401) throw new Error("That key was refused: sign in again.");
  const body = await response.json();
  if (body.errors) throw new Error(body.errors[0].message);
  const result = body.data.programMetrics;
  if (result.errors.length) throw new Error(result.errors.map((e) => e.message).join(" "));
  return result.metrics;
}

function draw(id, type, labels, datasets, options = {}) {
  const canvas = document.getElementById(id);
  // What the chart shows, for tests and for anyone reading the page's source.
  canvas.dataset.series = JSON.stringify({ labels, data: datasets.map((d) => d.data) });
  if (charts[id]) charts[id].destroy();
  charts[id] = new Chart(canvas, { type, data: { labels, datasets }, options: { animation: false, ...options } });
}

function number(value) {
  return value === null ? null : Number(value);
}

// Amounts come as Money { amount } (all in the program currency, m.currency); the rest as they are.
function figure(value) {
  return value !== null && typeof value === "object" ? value.amount : value;
}

function show(m) {
  const rows = document.querySelector("#overall tbody");
  rows.replaceChildren();
  for (const [name, money] of Object.entries({ ...m.overall, ...m.acquisition })) {
    const value = figure(money);
    const row = rows.insertRow();
    row.insertCell().textContent = name;
    const cell = row.insertCell();
    cell.className = "value";
    cell.dataset.metric = name;
    cell.textContent = value === null ? "—" : String(value);
  }
  const months = m.byMonth.map((g) => g.key);
  draw("points", "bar", months, [
    { label: "issued", data: m.byMonth.map((g) => g.metrics.pointsEarned) },
    { label: "redeemed", data: m.byMonth.map((g) => g.metrics.pointsRedeemed) },
  ]);
  draw("tiers", "doughnut", m.byTier.map((g) => g.key || "(none)"), [
    { label: "members", data: m.byTier.map((g) => g.metrics.members) },
  ]);
  draw("nps", "line", months, [
    { label: "NPS", data: m.byMonth.map((g) => g.metrics.netPromoterScore), spanGaps: true },
  ], { scales: { y: { min: -100, max: 100 } } });
  draw("retention", "bar", m.byCohort.map((g) => g.key), [
    { label: "retention rate", data: m.byCohort.map((g) => g.metrics.retentionRate) },
  ], { scales: { y: { min: 0, max: 1 } } });
  draw("spend", "bar", m.byTier.map((g) => g.key || "(none)"), [
    { label: `spend (${m.currency})`, data: m.byTier.map((g) => number(figure(g.metrics.revenue))) },
  ]);
}

async function refresh() {
  const key = sessionStorage.getItem(KEY);
  const form = document.getElementById("range");
  const message = document.getElementById("message");
  if (!key) {
    document.body.dataset.state = "signed-out";
    return;
  }
  document.body.dataset.state = "loading";
  message.textContent = "";
  try {
    show(await metrics(key, form.elements.from.value, form.elements.to.value));
    document.body.dataset.state = "ready";
  } catch (error) {
    message.textContent = error.message;
    document.body.dataset.state = "error";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const params = fragment();
  if (params.get("key")) sessionStorage.setItem(KEY, params.get("key"));
  const [from, to] = defaultRange();
  const range = document.getElementById("range");
  range.elements.from.value = params.get("from") || from;
  range.elements.to.value = params.get("to") || to;
  range.addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  document.getElementById("sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, event.target.elements.key.value);
    event.target.reset();
    refresh();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    document.body.dataset.state = "signed-out";
  });
  refresh();
});
