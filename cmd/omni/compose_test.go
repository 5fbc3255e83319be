package main

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/omni-orchestrator/omni/internal/testenv"
)

// loadCompose reads docker-compose.yml with compose's own parser, in this
// process's environment.
func loadCompose(t *testing.T) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{"../../docker-compose.yml"}, cli.WithOsEnv)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// docker compose cannot run here; its own parser checks the file users run.
func TestComposeFileIsValid(t *testing.T) {
	// Without payload keys compose refuses to start anything, naming them.
	t.Setenv("OMNI_PAYLOAD_KEYS", "")
	if _, err := loadCompose(t); err == nil || !strings.Contains(err.Error(), "OMNI_PAYLOAD_KEYS") {
		t.Fatalf("docker-compose.yml without OMNI_PAYLOAD_KEYS: %v", err)
	}
	t.Setenv("OMNI_PAYLOAD_KEYS", testenv.PayloadKeys)
	p, err := loadCompose(t)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for _, want := range []string{"postgres", "temporal-schema", "temporal", "temporal-namespace", "temporal-ui", "migrate", "worker", "api"} {
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

// Temporal runs as the temporalio/server image, not the deprecated
// auto-setup one: its schema is set up by a one-shot admin-tools service of
// the same version that the server waits for, and the namespace, created
// by another once the server answers, keeps closed histories longer than a
// day (the journeys table, not Temporal's retention, decides re-entry).
func TestComposeRunsTemporalServerWithItsSchemaSetUp(t *testing.T) {
	t.Setenv("OMNI_PAYLOAD_KEYS", testenv.PayloadKeys)
	p, err := loadCompose(t)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	server, schema, namespace := p.Services["temporal"], p.Services["temporal-schema"], p.Services["temporal-namespace"]
	image, version, _ := strings.Cut(server.Image, ":")
	if image != "temporalio/server" {
		t.Fatalf("temporal runs %s, want temporalio/server", server.Image)
	}
	for _, svc := range []types.ServiceConfig{schema, namespace} {
		if !strings.HasPrefix(svc.Image, "temporalio/admin-tools:"+version+"-") {
			t.Errorf("%s runs %s, want temporalio/admin-tools at the server's version %s", svc.Name, svc.Image, version)
		}
	}
	if dep := server.DependsOn["temporal-schema"]; dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("temporal does not wait for its schema: %+v", server.DependsOn)
	}
	script := strings.Join(schema.Command, " ")
	for _, want := range []string{"temporal_visibility", "setup-schema", "update-schema", "postgresql/v12/", "SQL_PLUGIN"} {
		if !strings.Contains(script+" "+strings.Join(slices.Collect(maps.Keys(schema.Environment)), " "), want) {
			t.Errorf("temporal-schema does not mention %s", want)
		}
	}
	for _, name := range []string{"worker", "api"} {
		if dep := p.Services[name].DependsOn["temporal-namespace"]; dep.Condition != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s does not wait for the namespace: %+v", name, p.Services[name].DependsOn)
		}
	}
	fields := strings.Fields(strings.Join(namespace.Command, " "))
	i := slices.Index(fields, "--retention")
	if i < 0 || i+1 == len(fields) {
		t.Fatalf("temporal-namespace sets no retention: %q", namespace.Command)
	}
	if d, err := time.ParseDuration(fields[i+1]); err != nil || d <= 24*time.Hour {
		t.Errorf("namespace retention %q: want more than a day (%v)", fields[i+1], err)
	}
}

// Only the API is for the network: what has no authentication of its own
// (PostgreSQL, Temporal's frontend and UI, the worker's metrics) is
// published on 127.0.0.1 or not at all.
func TestComposePublishesOnlyTheAPIBeyondThisMachine(t *testing.T) {
	t.Setenv("OMNI_PAYLOAD_KEYS", testenv.PayloadKeys)
	p, err := loadCompose(t)
	if err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	for name, svc := range p.Services {
		for _, port := range svc.Ports {
			if name != "api" && port.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes %s:%d on every interface; bind it to 127.0.0.1", name, port.Published, port.Target)
			}
		}
	}
}

// The image runs the API unless told otherwise, never `omni dev`, which
// loads demo customers and takes webhooks unverified.
func TestTheImageRunsTheAPIByDefault(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var cmd string
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "CMD ") {
			cmd = strings.TrimSpace(line)
		}
	}
	if cmd != `CMD ["api"]` {
		t.Fatalf("the image's default command is %q", cmd)
	}
}
