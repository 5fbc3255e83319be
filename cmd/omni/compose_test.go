package main

import (
	"context"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// docker compose cannot run here; its own parser checks the file users run.
func TestComposeFileIsValid(t *testing.T) {
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"}, cli.WithOsEnv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
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
		if svc.Build == nil || svc.Environment["DATABASE_URL"] == nil || svc.Environment["TEMPORAL_ADDRESS"] == nil {
			t.Errorf("%s: not built here or missing DATABASE_URL/TEMPORAL_ADDRESS", name)
		}
	}
}
