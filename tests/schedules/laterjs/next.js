// Prints, for each text given on the command line, later.js 1.2.0's verdict and its first
// occurrences strictly after START (UTC), as rows for test_laterjs_table.py / _audit.py:
//   cd tests/schedules/laterjs && npm install && node next.js "every 2 months at 5:00 pm"
"use strict";
const later = require("later");

later.date.UTC();
const START = "2013-03-21T03:05:23Z";
for (const text of process.argv.slice(2)) {
  const parsed = later.parse.text(text);
  if (parsed.error >= 0) {
    console.log(JSON.stringify([text, `later.js rejects it at character ${parsed.error}`]));
    continue;
  }
  const found = later.schedule(parsed).next(4, new Date(START));
  const list = found === later.NEVER ? [] : [].concat(found);
  const next = list.filter((d) => d.getTime() > Date.parse(START)).slice(0, 3)
    .map((d) => d.toISOString().slice(0, 19));
  console.log(JSON.stringify([text, next]));
}
