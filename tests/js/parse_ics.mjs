// Read an iCalendar file with ical.js (Mozilla's parser, not ours) and print its events as JSON.
//
//   node tests/js/parse_ics.mjs FILE.ics
//
// One object per VEVENT, in file order:
//   uid, summary, status, start (local wall-clock time, ISO 8601 without offset), tzid (the zone ical.js
//   resolved the start in: "floating" when it found no VTIMEZONE for the TZID), utc (the instant, ISO 8601
//   in UTC, worked out by ical.js from the file's own VTIMEZONE), end_utc, alarms (VALARM count),
//   alarm_triggers (each trigger as ical.js reads it, e.g. "-P1D"), recurring (has an RRULE or RDATE).
// Run with TZ=UTC so that a floating time cannot pass for a zoned one by luck.
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [file] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: node parse_ics.mjs FILE.ics\n");
  process.exit(2);
}

const calendar = new ICAL.Component(ICAL.parse(readFileSync(file, "utf8")));
const events = calendar.getAllSubcomponents("vevent").map((vevent) => {
  const event = new ICAL.Event(vevent);
  const start = event.startDate;
  const alarms = vevent.getAllSubcomponents("valarm");
  return {
    uid: event.uid,
    summary: event.summary,
    status: vevent.getFirstPropertyValue("status"),
    start: start.toString(),
    tzid: start.zone ? start.zone.tzid : null,
    utc: start.toJSDate().toISOString(),
    end_utc: event.endDate.toJSDate().toISOString(),
    alarms: alarms.length,
    alarm_triggers: alarms.map((alarm) => String(alarm.getFirstPropertyValue("trigger"))),
    recurring: event.isRecurring(),
  };
});
process.stdout.write(JSON.stringify({ events }, null, 2) + "\n");
