// The reviewer UI in headless Chromium against a running Vigil (the demo's
// queue): sign in, claim with the keyboard, reveal the blurred media,
// decide with shortcuts, then a lead finds that decision in the audit log.
// Needs REVIEW_BASE (e.g. http://127.0.0.1:8080), REVIEW_PASSWORD, and users
// `alice` (reviewer) and `lena` (lead); scripts/browser-tests.sh sets it up.
// Screenshots go to REVIEW_SHOTS (default artifacts/, gitignored).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.REVIEW_BASE;
const password = process.env.REVIEW_PASSWORD;
const shots = process.env.REVIEW_SHOTS || "artifacts";
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
assert.ok(base, "REVIEW_BASE is not set");
assert.ok(password, "REVIEW_PASSWORD is not set");
mkdirSync(shots, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

async function signIn(user) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  await page.goto(`${base}/review/login`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL(/\/review\/?$/), page.click("button[type=submit]")]);
  return { context, page };
}

// The CSS filter on the media right now.
const mediaFilter = (page) =>
  page.$eval("#media", (el) => getComputedStyle(el).filter);

let decidedUpload;

test("a wrong password is refused with a message", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/review/login`);
  await page.fill("#username", "alice");
  await page.fill("#password", "not the password at all");
  await page.click("button[type=submit]");
  await page.waitForSelector("p.error[role=alert]");
  assert.match(page.url(), /\/review\/login/);
  await page.screenshot({ path: join(shots, "login-refused.png") });
  await context.close();
});

test("a reviewer claims, reveals and decides with the keyboard", async () => {
  const { context, page } = await signIn("alice");
  await page.screenshot({ path: join(shots, "queue.png"), fullPage: true });
  // N claims the most urgent item and opens its case page.
  await Promise.all([page.waitForURL(/\/review\/case\//), page.keyboard.press("n")]);
  decidedUpload = decodeURIComponent(page.url().split("/review/case/")[1].split("/")[0]);

  // Media start blurred and greyscale; R reveals them, still greyscale.
  await page.waitForSelector("#mediaframe[data-state=hidden]");
  assert.match(await mediaFilter(page), /blur/);
  await page.screenshot({ path: join(shots, "case-hidden.png"), fullPage: true });
  await page.keyboard.press("r");
  await page.waitForSelector("#mediaframe[data-state=revealed]");
  const revealed = await mediaFilter(page);
  assert.doesNotMatch(revealed, /blur/);
  assert.match(revealed, /grayscale/);
  await page.screenshot({ path: join(shots, "case-revealed.png"), fullPage: true });
  // Escape hides them again.
  await page.keyboard.press("Escape");
  await page.waitForSelector("#mediaframe[data-state=hidden]");

  // U picks uphold, 1 its first reason, Ctrl+Enter submits.
  await page.keyboard.press("u");
  assert.equal(await page.$eval('input[name=decision][value=uphold]', (e) => e.checked), true);
  await page.keyboard.press("1");
  const reason = await page.$eval("#reason", (e) => e.value);
  assert.notEqual(reason, "", "a reason was picked");
  await Promise.all([
    page.waitForURL(/\/review\/?(\?.*)?$/),
    page.keyboard.press("Control+Enter"),
  ]);
  await page.screenshot({ path: join(shots, "after-decision.png"), fullPage: true });

  // The API agrees: the item is decided, by alice, with that reason.
  const res = await context.request.get(`${base}/api/review/items?status=decided&limit=50`);
  assert.equal(res.status(), 200);
  const items = await res.json();
  const list = Array.isArray(items) ? items : items.items;
  assert.ok(
    list.some((i) => i.upload_id === decidedUpload),
    `decided items include ${decidedUpload}`,
  );
  await context.close();
});

test("a lead finds the decision in the audit log by search", async () => {
  assert.ok(decidedUpload, "the previous test decided an item");
  const { context, page } = await signIn("lena");
  await page.goto(`${base}/review/audit`);
  await page.fill("input[name=q]", "decision:uphold actor:alice");
  await Promise.all([page.waitForURL(/q=/), page.click("form.filters button[type=submit]")]);
  const rows = await page.$$eval("table.compact tbody tr", (trs) =>
    trs.map((tr) => Array.from(tr.querySelectorAll("td")).map((td) => td.textContent.trim())),
  );
  assert.ok(rows.length >= 1, "the search finds the decision");
  for (const r of rows) {
    assert.equal(r[1], "alice");
    assert.equal(r[4], "uphold");
  }
  assert.ok(
    rows.some((r) => decidedUpload.startsWith(r[3].replace("…", ""))),
    "the decided item is among the results",
  );
  await page.screenshot({ path: join(shots, "audit-search.png"), fullPage: true });

  // A search that matches nothing says so.
  await page.fill("input[name=q]", "decision:overturn actor:nobody-here");
  await Promise.all([page.waitForURL(/nobody-here/), page.click("form.filters button[type=submit]")]);
  await page.waitForSelector("p.empty");
  await context.close();
});

test("a reviewer cannot open the audit log", async () => {
  const { context, page } = await signIn("alice");
  const res = await page.goto(`${base}/review/audit`);
  assert.equal(res.status(), 403);
  await context.close();
});
