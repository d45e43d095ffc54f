// Regenerates corpus.json from texts-laterjs.txt and texts.txt with later.js 1.2.0 (see CONTRIBUTING.md):
//   cd tests/schedules/laterjs && npm install && node generate.js
// For every text: later.parse.text's error position (-1 = accepted) and, for accepted
// texts, the first COUNT occurrences strictly after each START (UTC).
"use strict";
const fs = require("fs");
const path = require("path");
const later = require("later");

later.date.UTC();
const STARTS = ["2013-03-21T03:05:23Z", "2024-02-28T23:59:59Z", "2026-12-31T12:30:00Z"];
const COUNT = 5;

// texts-laterjs.txt: the texts of later.js's own tests (test/parse/text-test.js and
// test/example/text-example-test.js); texts.txt: texts written for conveyor.
const read = (name) => fs.readFileSync(path.join(__dirname, name), "utf8")
  .split("\n").map((line) => line.trim()).filter((line) => line.length > 0);
const texts = read("texts-laterjs.txt").map((text) => [text, "later.js"])
  .concat(read("texts.txt").map((text) => [text, "conveyor"]));
const cases = texts.map(([text, source]) => {
  const parsed = later.parse.text(text);
  const item = { text: text, source: source, error: parsed.error };
  if (parsed.error < 0) {
    const schedule = later.schedule(parsed);
    item.next = STARTS.map((start) => {
      // later.js counts a start that is itself valid; ask for one more and drop it
      const found = schedule.next(COUNT + 1, new Date(start));
      const list = found === later.NEVER ? [] : [].concat(found);
      return list.filter((d) => d.getTime() > Date.parse(start)).slice(0, COUNT)
        .map((d) => d.toISOString().replace(".000Z", "Z"));
    });
  }
  return item;
});
const out = { generator: "later 1.2.0", starts: STARTS, count: COUNT, cases: cases };
fs.writeFileSync(path.join(__dirname, "corpus.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`${cases.length} texts, ${cases.filter((c) => c.error < 0).length} accepted`);
