package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/omni-orchestrator/omni/internal/testenv"
)

// docker compose cannot run here; its own parser checks the file users run.
func TestComposeFileIsValid(t *testing.T) {
	load := func() (*types.Project, error) {
		opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"}, cli.WithOsEnv)
		if err != nil {
			t.Fatal(err)
		}
		return opts.LoadProject(context.Background())
	}
	// Without payload keys compose refuses to start anything, naming them.
	t.Setenv("OMNI_PAYLOAD_KEYS", "")
	if _, err := load(); err == nil || !strings.Contains(err.Error(), "OMNI_PAYLOAD_KEYS") {
		t.Fatalf("docker-compose.yml without OMNI_PAYLOAD_KEYS: %v", err)
	}
	t.Setenv("OMNI_PAYLOAD_KEYS", testenv.PayloadKeys)
	p, err := load()
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgres", "temporal", "temporal-ui", "migrate", "worker", "api"} {
		if !slices.Contains(p.ServiceNames(), want) {
			t.Errorf("no service %q", want)
		}
	}
	for _, name := range []string{"worker", "api", "migrate"} {
		svc := p.Services[name]
		if svc.Build == nil || svc.Environment["DATABASE_URL"] == nil || svc.Environment["TEMPORAL_ADDRESS"] == nil ||
			svc.Environment["OMNI_PAYLOAD_KEYS"] == nil || *svc.Environment["OMNI_PAYLOAD_KEYS"] != testenv.PayloadKeys {
			t.Errorf("%s: not built here or missing DATABASE_URL/TEMPORAL_ADDRESS/OMNI_PAYLOAD_KEYS", name)
		}
	}
}
