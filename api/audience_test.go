package api_test

import "testing"

func TestLaunchToAFilteredAudience(t *testing.T) {
	c, _ := start(t)
	c.must(200, "POST", "/v1/customers", `[
		{"id": "ada", "email": "ada@example.com", "attributes": {"tier": "gold"}},
		{"id": "bob", "email": "bob@example.com", "consent": {"email": false}, "attributes": {"tier": "silver"}},
		{"id": "cy", "email": "cy@example.com", "attributes": {"tier": "bronze"}},
		{"id": "dee", "attributes": {"tier": "gold"}}]`)
	c.must(201, "POST", "/v1/campaigns", `{"id": "vip", "start_at": "mail", "steps": {
		"mail": {"send": {"channel": "email", "template": {"subject": "For you", "body": "Hi"}}, "next": "done"},
		"done": {"exit": {}}}}`)

	problemAt(t, c.must(400, "POST", "/v1/campaigns/vip/launch", `{"audience": {"all": true, "filter": {"any": [{"responded": "clicked"}]}}}`),
		"invalid_request", "audience.filter.any[0].responded")
	problemAt(t, c.must(400, "POST", "/v1/campaigns/vip/launch", `{"audience": {"all": true, "filter": {"attribute": "tier"}}}`),
		"invalid_request", "audience.filter")

	c.must(202, "POST", "/v1/campaigns/vip/launch", `{"audience": {"all": true, "filter": {"all": [
		{"attribute": "tier", "in": ["gold", "silver"]}, {"consent": "email"}, {"reachable": "email"}]}}}`)
	var launch map[string]any
	eventually(t, "the launch to finish", func() bool {
		launch = c.must(200, "GET", "/v1/campaigns/vip", nil)["launches"].([]any)[0].(map[string]any)
		return launch["status"] == "finished"
	})
	if launch["audience_size"] != float64(1) || launch["enrolled"] != float64(1) || launch["skipped"] != float64(0) {
		t.Fatalf("launch %v", launch)
	}
	for id, want := range map[string]bool{"ada": true, "bob": false, "cy": false, "dee": false} {
		if got := journey(c.must(200, "GET", "/v1/customers/"+id, nil)) != nil; got != want {
			t.Errorf("%s enrolled: %v, want %v", id, got, want)
		}
	}
}
