package api_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	temporalclient "go.temporal.io/sdk/client"
)

// newsletter is a one-email campaign with the given entry.reentry.
func newsletter(id, reentry string) string {
	return fmt.Sprintf(`{"id": %q, "start_at": "mail", "entry": {"reentry": %q}, "steps": {
	  "mail": {"send": {"channel": "email", "template": {"subject": "News", "body": "<p>This week</p>"}}, "next": "done"},
	  "done": {"exit": {}}}}`, id, reentry)
}

// journeys counts a campaign's journeys, whatever their status.
func (c *client) journeys(campaign string) int {
	n := 0
	for _, v := range c.must(200, "GET", "/v1/campaigns/"+campaign, nil)["journeys"].(map[string]any) {
		n += int(v.(float64))
	}
	return n
}

// schedule is the campaign's schedule id in the list, or nil.
func (c *client) schedule(campaign, id string) map[string]any {
	for _, s := range c.must(200, "GET", "/v1/campaigns/"+campaign+"/schedules", nil)["schedules"].([]any) {
		if s := s.(map[string]any); s["id"] == id {
			return s
		}
	}
	return nil
}

func runs(s map[string]any) []map[string]any {
	var out []map[string]any
	for _, r := range s["runs"].([]any) {
		out = append(out, r.(map[string]any))
	}
	return out
}

// Launches scheduled through the API on the real dev server: one at a
// time a few seconds ahead fires then, once; a recurring one fires on
// every interval, each run a launch of its own, and the entry rules decide
// who enters again (never: each customer once; always: every run); an
// engineer's pause in Temporal shows in the list; deleting one stops it.
func TestScheduledAndRecurringLaunches(t *testing.T) {
	c, env := start(t)
	ctx := context.Background()
	c.must(200, "POST", "/v1/customers", `[{"id": "c1", "email": "c1@example.com"}, {"id": "c2", "email": "c2@example.com"}]`)
	for _, d := range []string{newsletter("once", "never"), newsletter("weekly", "never"), newsletter("daily", "always")} {
		c.must(201, "POST", "/v1/campaigns", d)
	}
	all := map[string]any{"all": true}

	at := time.Now().Add(3 * time.Second).Truncate(time.Second)
	once := c.must(201, "POST", "/v1/campaigns/once/launch", map[string]any{"audience": all, "at": at})
	if once["id"] != "schedule:once:1" || once["status"] != "active" {
		t.Fatalf("scheduled %v", once)
	}
	if next := once["next_runs"].([]any); len(next) != 1 || next[0] != at.UTC().Format(time.RFC3339) {
		t.Fatalf("next runs %v, want %s", next, at)
	}
	weekly := c.must(201, "POST", "/v1/campaigns/weekly/launch", map[string]any{"audience": all, "schedule": map[string]any{"every": "2s"}})
	daily := c.must(201, "POST", "/v1/campaigns/daily/launch", map[string]any{"audience": all, "schedule": map[string]any{"cron": "@every 2s"}})

	// Nothing before its time (unless the machine took that long already).
	if n := c.journeys("once"); n != 0 && time.Now().Before(at) {
		t.Fatalf("%d journeys before the scheduled time", n)
	}
	eventually(t, "the scheduled launch to enroll both", func() bool { return c.journeys("once") == 2 })
	eventually(t, "the run's launch to finish", func() bool {
		rs := runs(c.schedule("once", "schedule:once:1"))
		return len(rs) == 1 && rs[0]["status"] == "finished"
	})
	s := c.schedule("once", "schedule:once:1")
	if r := runs(s)[0]; r["id"] != "launch:once:schedule-1-"+at.UTC().Format(time.RFC3339) || r["enrolled"] != float64(2) || r["schedule_id"] != "schedule:once:1" {
		t.Fatalf("run %v", r)
	}
	if s["status"] != "done" || len(s["next_runs"].([]any)) != 0 {
		t.Fatalf("after its one run: %v", s)
	}
	// It ran at its time: its launch was recorded within seconds after it.
	if began, _ := time.Parse(time.RFC3339Nano, runs(s)[0]["created_at"].(string)); began.Before(at) || began.After(at.Add(5*time.Second)) {
		t.Fatalf("the run began at %v, scheduled for %v", began, at)
	}

	// Two runs each: with reentry never each customer entered once, the
	// second run finding both in; with always, each run enrolled both.
	eventually(t, "two finished runs of each recurring schedule", func() bool {
		for campaign, id := range map[string]any{"weekly": weekly["id"], "daily": daily["id"]} {
			rs := runs(c.schedule(campaign, id.(string)))
			if len(rs) < 2 || rs[len(rs)-1]["status"] != "finished" || rs[len(rs)-2]["status"] != "finished" {
				return false
			}
		}
		return true
	})
	w := runs(c.schedule("weekly", "schedule:weekly:1"))
	first, second := w[len(w)-1], w[len(w)-2]
	if first["enrolled"] != float64(2) || second["enrolled"] != float64(0) || second["already_enrolled"] != float64(2) || first["id"] == second["id"] {
		t.Fatalf("runs of the reentry-never schedule: %v then %v", first, second)
	}
	if n := c.journeys("weekly"); n != 2 {
		t.Fatalf("reentry never: %d journeys, want each customer once", n)
	}
	d := runs(c.schedule("daily", "schedule:daily:1"))
	if d[len(d)-1]["enrolled"] != float64(2) || d[len(d)-2]["enrolled"] != float64(2) {
		t.Fatalf("runs of the reentry-always schedule: %v", d)
	}

	// An engineer pauses one in Temporal: the list shows it.
	h := env.Temporal.ScheduleClient().GetHandle(ctx, "schedule:daily:1")
	if err := h.Pause(ctx, temporalclient.SchedulePauseOptions{Note: "held by ops"}); err != nil {
		t.Fatal(err)
	}
	if s := c.schedule("daily", "schedule:daily:1"); s["status"] != "paused" || s["note"] != "held by ops" {
		t.Fatalf("paused: %v", s)
	}

	// Deleted, it is gone from the list and from Temporal, and runs no more.
	c.must(204, "DELETE", "/v1/campaigns/weekly/schedules/schedule:weekly:1", nil)
	if s := c.schedule("weekly", "schedule:weekly:1"); s != nil {
		t.Fatalf("listed after delete: %v", s)
	}
	var gone *serviceerror.NotFound
	if _, err := env.Temporal.ScheduleClient().GetHandle(ctx, "schedule:weekly:1").Describe(ctx); !errors.As(err, &gone) {
		t.Fatalf("describe after delete: %v", err)
	}
	launches := len(c.must(200, "GET", "/v1/campaigns/weekly", nil)["launches"].([]any))
	time.Sleep(2500 * time.Millisecond)
	if n := len(c.must(200, "GET", "/v1/campaigns/weekly", nil)["launches"].([]any)); n != launches {
		t.Fatalf("%d launches after the delete, %d before", n, launches)
	}
	// A cancelled campaign's schedule ends at its next run, launching nothing.
	c.must(201, "POST", "/v1/campaigns", newsletter("gone", "always"))
	c.must(201, "POST", "/v1/campaigns/gone/launch", map[string]any{"audience": all, "schedule": map[string]any{"every": "2s"}})
	c.must(202, "POST", "/v1/campaigns/gone/cancel", nil)
	eventually(t, "the cancelled campaign's schedule to end", func() bool { return c.schedule("gone", "schedule:gone:1") == nil })
	if l := c.must(200, "GET", "/v1/campaigns/gone", nil)["launches"].([]any); len(l) != 0 || c.journeys("gone") != 0 {
		t.Fatalf("the cancelled campaign launched %v", l)
	}
	problemAt(t, c.must(404, "DELETE", "/v1/campaigns/weekly/schedules/schedule:weekly:1", nil), "not_found", "-")
	problemAt(t, c.must(404, "DELETE", "/v1/campaigns/once/schedules/schedule:daily:1", nil), "not_found", "-")
	problemAt(t, c.must(404, "GET", "/v1/campaigns/nope/schedules", nil), "not_found", "-")
	// The next one is number 2: ids are never used again.
	if s := c.must(201, "POST", "/v1/campaigns/weekly/launch", map[string]any{"audience": all, "schedule": map[string]any{"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}}); s["id"] != "schedule:weekly:2" {
		t.Fatalf("scheduled %v", s)
	} else if next, _ := time.Parse(time.RFC3339, s["next_runs"].([]any)[0].(string)); next.In(berlin(t)).Hour() != 9 || next.Weekday() != time.Monday {
		t.Fatalf("next runs %v, want Mondays at 9 in Berlin", s["next_runs"])
	}
	// An interval is a duration like any other: in weeks too.
	if s := c.must(201, "POST", "/v1/campaigns/weekly/launch", map[string]any{"audience": all, "schedule": map[string]any{"every": "1w"}}); s["id"] != "schedule:weekly:3" {
		t.Fatalf("scheduled %v", s)
	} else if next, _ := time.Parse(time.RFC3339, s["next_runs"].([]any)[0].(string)); time.Until(next) < 6*24*time.Hour {
		t.Fatalf("next runs %v, want a week from now", s["next_runs"])
	}
}

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// A launch now may deliver at each customer's local time of day (their
// journeys wait for it) and be paced; the launch shows both.
func TestALaunchAtLocalTimeHoldsTheJourneys(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[{"id": "c1", "email": "c1@example.com", "timezone": "Asia/Tokyo"}]`)
	c.must(201, "POST", "/v1/campaigns", newsletter("morning", "never"))
	clock := time.Now().In(time.FixedZone("JST", 9*3600)).Add(3 * time.Hour).Format("15:04")
	c.must(202, "POST", "/v1/campaigns/morning/launch", map[string]any{"audience": map[string]any{"all": true}, "local_time": clock, "rate_per_minute": 600})
	var l map[string]any
	eventually(t, "the launch to finish", func() bool {
		l = c.must(200, "GET", "/v1/campaigns/morning", nil)["launches"].([]any)[0].(map[string]any)
		return l["status"] == "finished"
	})
	if l["local_time"] != clock || l["rate_per_minute"] != float64(600) || l["enrolled"] != float64(1) {
		t.Fatalf("launch %v", l)
	}
	time.Sleep(500 * time.Millisecond)
	view := c.must(200, "GET", "/v1/customers/c1", nil)
	if j := journey(view); j["status"] != "active" || j["current_step"] != "mail" || len(messages(view)) != 0 {
		t.Fatalf("journey %v, messages %v: it must wait for %s in Tokyo", j, messages(view), clock)
	}
}

// Bad schedules and deliveries answer 400 at their paths, and schedule
// nothing.
func TestBadSchedulesAnswer400(t *testing.T) {
	c, _ := start(t)
	c.must(201, "POST", "/v1/campaigns", newsletter("news", "never"))
	all := map[string]any{"all": true}
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		body map[string]any
		path string
	}{
		{map[string]any{"schedule": map[string]any{"cron": "0 25 * * MON"}}, "schedule.cron"},
		{map[string]any{"schedule": map[string]any{"cron": "every monday"}}, "schedule.cron"},
		{map[string]any{"schedule": map[string]any{"cron": "0 9 * * MON", "timezone": "Europe/Bxl"}}, "schedule.timezone"},
		{map[string]any{"at": time.Now().Add(-time.Minute)}, "at"},
		{map[string]any{"schedule": map[string]any{"at": time.Now().Add(-time.Minute)}}, "schedule.at"},
		{map[string]any{"schedule": map[string]any{"every": "24h", "at": future, "until": future.Add(-time.Minute)}}, "schedule.until"},
		{map[string]any{"schedule": map[string]any{"every": "0s"}}, "schedule.every"},
		{map[string]any{"schedule": map[string]any{"cron": "@daily", "every": "24h"}}, "schedule"},
		{map[string]any{"schedule": map[string]any{}}, "schedule"},
		{map[string]any{"at": future, "schedule": map[string]any{"at": future, "every": "1h"}}, "at"},
		{map[string]any{"rate_per_minute": 0}, "rate_per_minute"},
		{map[string]any{"rate_per_minute": -5, "at": future}, "rate_per_minute"},
		{map[string]any{"local_time": "9am"}, "local_time"},
	} {
		tc.body["audience"] = all
		problemAt(t, c.must(400, "POST", "/v1/campaigns/news/launch", tc.body), "invalid_request", tc.path)
	}
	if s := c.must(200, "GET", "/v1/campaigns/news/schedules", nil)["schedules"].([]any); len(s) != 0 {
		t.Fatalf("schedules after bad requests: %v", s)
	}
	if l := c.must(200, "GET", "/v1/campaigns/news", nil)["launches"].([]any); len(l) != 0 {
		t.Fatalf("launches after bad requests: %v", l)
	}
	// The schedules Temporal refused (the cron expressions) left nothing.
	if id := c.must(201, "POST", "/v1/campaigns/news/launch", map[string]any{"audience": all, "at": future})["id"]; id != "schedule:news:1" {
		t.Fatalf("the first schedule taken is %v", id)
	}
}
