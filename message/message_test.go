package message

import (
	"strings"
	"testing"

	"github.com/omni-orchestrator/omni/campaign"
	"github.com/omni-orchestrator/omni/journey"
	"github.com/omni-orchestrator/omni/store"
)

func TestComposeFallsBackAcrossChannels(t *testing.T) {
	send := campaign.Send{
		Channels:  []string{"push", "sms", "email"},
		Template:  &campaign.Template{Subject: "Last chance", Title: "Last chance, {{first_name}}", Body: "20% off"},
		Templates: map[string]campaign.Template{"sms": {Body: "{{first_name}}: 20% off, code {{data.code}}"}},
	}
	all := store.Consent{Email: true, SMS: true, Push: true}
	for name, tc := range map[string]struct {
		c                     store.Customer
		channel, body, reason string
	}{
		"first choice":         {store.Customer{PushToken: "tok", Phone: "+491", Consent: all}, "push", "20% off", ""},
		"no push token":        {store.Customer{Phone: "+491", Email: "a@b.c", Consent: all}, "sms", "Ada: 20% off, code X1", ""},
		"no sms consent":       {store.Customer{Phone: "+491", Email: "a@b.c", Consent: store.Consent{Email: true}}, "email", "20% off", ""},
		"preferred goes first": {store.Customer{PushToken: "tok", Email: "a@b.c", PreferredChannel: "email", Consent: all}, "email", "20% off", ""},
		"nothing usable":       {store.Customer{Phone: "+491", Consent: store.Consent{Push: true}}, "push", "", "no_channel: push unreachable, sms no_consent, email unreachable"},
	} {
		tc.c.Attributes = map[string]any{"first_name": "Ada"}
		got := Compose(tc.c, send, Vars{Data: map[string]any{"code": "X1"}}, nil)
		if got.Channel != tc.channel || got.Body != tc.body || got.Reason != tc.reason {
			t.Errorf("%s: got %+v, want %s %q %q", name, got, tc.channel, tc.body, tc.reason)
		}
		if tc.reason != "" && got.Status != journey.MessageSkipped {
			t.Errorf("%s: status %q", name, got.Status)
		}
	}
	if got := Compose(store.Customer{PushToken: "t", Consent: all, Attributes: map[string]any{"first_name": "Ada"}}, send, Vars{}, nil); got.Subject != "Last chance, Ada" {
		t.Errorf("push title = %q", got.Subject)
	}
}

func TestComposeReportsATemplateThatFailsToRender(t *testing.T) {
	send := campaign.Send{Channel: "sms", Template: &campaign.Template{Body: "{{ 1 | divided_by: 0 }}"}}
	got := Compose(store.Customer{Phone: "+491", Consent: store.Consent{SMS: true}}, send, Vars{}, nil)
	if got.Status != journey.MessageFailed || !strings.HasPrefix(got.Reason, journey.ReasonTemplate) {
		t.Fatalf("got %+v", got)
	}
}

func TestComposeFailsATemplateOverALimitWithTheLimit(t *testing.T) {
	send := campaign.Send{Channel: "email", Template: &campaign.Template{Subject: "Hi", Body: "{% for i in (1..100000000) %}{% endfor %}"}}
	got := Compose(store.Customer{Email: "a@b.c", Consent: store.Consent{Email: true}}, send, Vars{}, nil)
	if want := "template_error: render template: template exceeds 10000 loop iterations"; got.Status != journey.MessageFailed || got.Reason != want {
		t.Fatalf("got %+v, want failed with %q", got, want)
	}
}

func TestComposeProviderTemplatesAndLinks(t *testing.T) {
	c := store.Customer{ID: "ada", Email: "a@b.c", PushToken: "tok", Consent: store.Consent{Email: true, Push: true},
		Attributes: map[string]any{"first_name": "Ada", "sku": "42"}}
	mail := Compose(c, campaign.Send{Channel: "email", Template: &campaign.Template{TemplateID: "d-0123456789abcdef0123456789abcdef"}},
		Vars{Data: map[string]any{"code": "X1"}}, nil)
	if mail.TemplateID != "d-0123456789abcdef0123456789abcdef" || mail.Body != "" || mail.TemplateData["first_name"] != "Ada" ||
		mail.TemplateData["id"] != "ada" || mail.TemplateData["data"].(map[string]any)["code"] != "X1" {
		t.Errorf("dynamic template: %+v", mail)
	}
	push := Compose(c, campaign.Send{Channel: "push", Template: &campaign.Template{Title: "Back", Body: "In stock", Link: "shop://products/{{sku}}"}}, Vars{}, campaign.LinkSchemes{"shop"})
	if push.Link != "shop://products/42" || push.TemplateID != "" {
		t.Errorf("push: %+v", push)
	}
}

// A link's scheme may come from data: a rendered link the operator does not
// allow fails the message, with the reason, instead of reaching a device.
func TestComposeFailsAPushLinkOfARefusedScheme(t *testing.T) {
	c := store.Customer{PushToken: "tok", Consent: store.Consent{Push: true}}
	send := campaign.Send{Channel: "push", Template: &campaign.Template{Title: "Hi", Link: "{{data.url}}"}}
	for link, ok := range map[string]bool{
		"https://shop.example.com/p/1": true, "shop://products/1": true, "SHOP://products/1": true,
		"javascript:alert(1)": false, "JavaScript:alert(1)": false, " javascript:alert(1)": false, "java\tscript:alert(1)": false,
		"data:text/html,<script>": false, "http://shop.example.com": false, "https:///no-host": false, "/relative": false, "myapp://x": false,
	} {
		got := Compose(c, send, Vars{Data: map[string]any{"url": link}}, campaign.LinkSchemes{"shop"})
		switch {
		case ok && got.Status != "":
			t.Errorf("%q: refused: %+v", link, got)
		case !ok && (got.Status != journey.MessageFailed || !strings.HasPrefix(got.Reason, journey.ReasonUnsafeLink+": ")):
			t.Errorf("%q: not refused: %+v", link, got)
		}
	}
}
