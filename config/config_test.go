package config

import (
	"strings"
	"testing"
)

func TestDefaultsWork(t *testing.T) {
	c, err := FromEnv()
	if err != nil || !c.Demo || c.LaunchPageSize != 500 || c.SendGrid.Rate != 1000 || c.LogLevel.String() != "INFO" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
}

// A key is a secret: the error names the variable, never the value.
func TestABadPayloadKeyIsNotRepeated(t *testing.T) {
	t.Setenv("OMNI_PAYLOAD_KEYS", "k1:c2VjcmV0LWJ1dC1zaG9ydA==")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "OMNI_PAYLOAD_KEYS") || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("error: %v", err)
	}
}

func TestPayloadKeysAreRead(t *testing.T) {
	t.Setenv("OMNI_PAYLOAD_KEYS", "k2:mXB+MvBz6b6JOkw+9rV4Xetg2mCEnhQNgJF9HyZ4SaI=, k1:ZTinrZaJq/KbGhFClyxCkqJBZNI3njQ1Sp7pddvsew8=")
	c, err := FromEnv()
	if err != nil || c.Codec == nil || c.Codec.String() != "keys k2, k1 (k2 encrypts)" {
		t.Fatalf("codec %v, %v", c.Codec, err)
	}
}

func TestDemoCanBeTurnedOff(t *testing.T) {
	for _, v := range []string{"false", "0"} {
		t.Setenv("OMNI_DEMO", v)
		if c, err := FromEnv(); err != nil || c.Demo {
			t.Errorf("OMNI_DEMO=%s: demo %v, %v", v, c.Demo, err)
		}
	}
}

// A value that does not parse stops the process with the variable's name,
// instead of the default silently taking its place.
func TestABadValueNamesItsVariable(t *testing.T) {
	for name, value := range map[string]string{
		"OMNI_DEMO":                              "maybe",
		"OMNI_LAUNCH_PAGE_SIZE":                  "lots",
		"OMNI_SEND_CONCURRENCY":                  "0",
		"TWILIO_RATE":                            "-1",
		"OMNI_KEY_RATE":                          "-5",
		"OMNI_COUPON_FAILURES":                   "0",
		"LOG_LEVEL":                              "loud",
		"OMNI_DEFAULT_TIMEZONE":                  "Mars/Olympus_Mons",
		"OMNI_HTTP_READ_TIMEOUT":                 "0s",
		"OMNI_HTTP_WRITE_TIMEOUT":                "forever",
		"SENDGRID_WEBHOOK_MAX_AGE":               "-1m",
		"OMNI_SEGMENT_INTERVAL":                  "0s",
		"OMNI_WEBHOOKS_UNVERIFIED":               "sure",
		"OMNI_PUSH_LINK_SCHEMES":                 "myapp,javascript",
		"OMNI_PAYLOAD_KEYS":                      "k1:c2hvcnQ=",
		"OMNI_DEV_CODEC_ADDR":                    "0.0.0.0:8081",
		"TEMPORAL_TLS":                           "yes",
		"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION": "sure",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
		})
	}
}

// Webhooks are verified and push links https unless an operator says
// otherwise; app schemes are case-insensitive.
func TestSafeDefaults(t *testing.T) {
	c, err := FromEnv()
	if err != nil || c.WebhooksUnverified || len(c.PushLinkSchemes) != 0 || c.SendGridWebhookMaxAge.Minutes() != 10 || c.HTTPReadTimeout == 0 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	t.Setenv("OMNI_PUSH_LINK_SCHEMES", "MyApp, shop")
	if c, err := FromEnv(); err != nil || strings.Join(c.PushLinkSchemes, " ") != "myapp shop" {
		t.Fatalf("schemes %q, %v", c.PushLinkSchemes, err)
	}
}
