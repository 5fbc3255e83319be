package api_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

const abCampaign = `{"id": "ab", "rules": {"goal": "converted"}, "start_at": "split", "steps": {
	"split":  {"experiment": {"variants": [{"name": "A", "weight": 40, "next": "mail-a"}, {"name": "B", "weight": 40, "next": "mail-b"}, {"name": "control", "weight": 20, "next": "done"}]}},
	"mail-a": {"send": {"channel": "email", "template": {"subject": "A", "body": "A"}}, "next": "wait"},
	"mail-b": {"send": {"channel": "email", "template": {"subject": "B", "body": "B"}}, "next": "wait"},
	"wait":   {"wait": {"for": ["converted"], "timeout": "1h"}, "next": "done"},
	"done":   {"exit": {}}}}`

func getCSV(t *testing.T, c *client, path string) [][]string {
	t.Helper()
	url := c.base + path
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("%s: %d %s", url, res.StatusCode, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestCampaignStatsAddUp(t *testing.T) {
	c, _ := start(t)
	const n = 20
	var customers []string
	for i := range n {
		customers = append(customers, fmt.Sprintf(`{"id": "c%02d", "email": "c%02d@example.com"}`, i, i))
	}
	c.must(200, "POST", "/v1/customers", "["+strings.Join(customers, ",")+"]")
	c.must(201, "POST", "/v1/campaigns", abCampaign)
	c.must(202, "POST", "/v1/campaigns/ab/launch", `{"audience": {"all": true}}`)

	// Every journey assigned, mailed or ended: then convert some of A and B.
	var stats map[string]any
	eventually(t, "every journey to be assigned and mailed", func() bool {
		stats = c.must(200, "GET", "/v1/campaigns/ab/stats", nil)
		vs, _ := stats["variants"].(map[string]any)
		assigned, mailed := 0.0, 0.0
		for name, v := range vs {
			e := v.(map[string]any)["enrolled"].(float64)
			assigned += e
			if name != "control" {
				mailed += e
			}
		}
		total := stats["total"].(map[string]any)["metrics"].(map[string]any)
		return assigned == n && total["sent"] == mailed
	})
	variants := stats["variants"].(map[string]any)
	converted := 0
	for i := range n {
		id := fmt.Sprintf("c%02d", i)
		view := c.must(200, "GET", "/v1/customers/"+id, nil)
		if journey(view)["variant"] != "control" && i%3 == 0 {
			c.must(201, "POST", "/v1/responses", fmt.Sprintf(`{"event_id": "buy-%s", "customer_id": %q, "campaign_id": "ab", "channel": "shop", "type": "converted"}`, id, id))
			converted++
		}
	}
	eventually(t, "the conversions to count", func() bool {
		stats = c.must(200, "GET", "/v1/campaigns/ab/stats", nil)
		return stats["journeys"].(map[string]any)["converted"] == float64(converted)
	})
	journeys := stats["journeys"].(map[string]any)
	total := stats["total"].(map[string]any)["metrics"].(map[string]any)
	email := stats["channels"].(map[string]any)["email"].(map[string]any)["metrics"].(map[string]any)
	shop := stats["channels"].(map[string]any)["shop"].(map[string]any)["metrics"].(map[string]any)
	steps := stats["steps"].(map[string]any)
	sentA, sentB := steps["mail-a"].(map[string]any)["metrics"].(map[string]any)["sent"], steps["mail-b"].(map[string]any)["metrics"].(map[string]any)["sent"]
	if journeys["enrolled"] != float64(n) || email["sent"] != total["sent"] || sentA.(float64)+sentB.(float64) != total["sent"] ||
		shop["converted"] != float64(converted) || sentA != variants["A"].(map[string]any)["enrolled"] {
		t.Fatalf("stats do not add up: %v", stats)
	}
	convertedByVariant := 0.0
	for name, v := range stats["variants"].(map[string]any) {
		vs := v.(map[string]any)
		convertedByVariant += vs["converted"].(float64)
		if name != "control" {
			if p, ok := vs["p_value"].(float64); !ok || p < 0 || p > 1 {
				t.Fatalf("variant %s has no p-value: %v", name, vs)
			}
		}
	}
	if convertedByVariant != float64(converted) {
		t.Fatalf("conversions by variant %v, want %d", convertedByVariant, converted)
	}

	rows := getCSV(t, c, "/v1/campaigns/ab/stats.csv")
	enrolled := 0
	for _, r := range rows[1:] {
		if r[3] == "enrolled" {
			k, _ := strconv.Atoi(r[4])
			enrolled += k
		}
	}
	if strings.Join(rows[0], ",") != "variant,channel,step,metric,count" || enrolled != n {
		t.Fatalf("stats.csv: %v", rows)
	}
	if rows := getCSV(t, c, "/v1/campaigns/ab/journeys.csv"); len(rows) != n+1 || rows[1][0] != "journey:ab:c00" {
		t.Fatalf("journeys.csv: %d rows, first %v", len(rows), rows[1])
	}
	c.must(404, "GET", "/v1/campaigns/nope/stats", nil)
}
