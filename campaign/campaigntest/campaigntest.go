// Package campaigntest holds the campaign definition tests share.
package campaigntest

import "fmt"

// Welcome is the welcome campaign: an email, a wait of timeout for a click
// or a conversion, then a push to those who clicked and an SMS to the
// others.
func Welcome(timeout string) string {
	return fmt.Sprintf(`{
  "id": "welcome",
  "name": "Welcome",
  "offer_id": "WELCOME-10",
  "start_at": "email-1",
  "steps": {
    "email-1": {"send": {"channel": "email", "template": {"subject": "Hi {{first_name}}", "body": "<p>10%% off, {{first_name}}</p>"}}, "next": "wait-1"},
    "wait-1":  {"wait": {"for": ["clicked", "converted"], "timeout": %q},
                "on": {"clicked": "push-1", "converted": "done", "timeout": "sms-1"}},
    "push-1":  {"send": {"channel": "push", "template": {"title": "Still there?", "body": "Ends soon"}}, "next": "done"},
    "sms-1":   {"send": {"channel": "sms", "template": {"body": "{{first_name}}, 10%% off today"}}, "next": "done"},
    "done":    {"exit": {}}
  }
}`, timeout)
}
