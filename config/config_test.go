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
		"OMNI_DEMO":             "maybe",
		"OMNI_LAUNCH_PAGE_SIZE": "lots",
		"OMNI_SEND_CONCURRENCY": "0",
		"TWILIO_RATE":           "-1",
		"OMNI_KEY_RATE":         "-5",
		"OMNI_COUPON_FAILURES":  "0",
		"LOG_LEVEL":             "loud",
		"OMNI_DEFAULT_TIMEZONE": "Mars/Olympus_Mons",
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv(name, value)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%s: %v", name, value, err)
			}
		})
	}
}
