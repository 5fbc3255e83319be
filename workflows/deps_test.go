package workflows_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The journey's code is deterministic: it may use the Temporal SDK and
// omni's vocabulary (campaign, journey), never the store, the providers or
// anything else that does I/O. make lint's workflowcheck proves what it
// calls; this keeps what it can reach small.
func TestWorkflowsImportNoIO(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{
		"github.com/omni-orchestrator/omni/workflows": true,
		"github.com/omni-orchestrator/omni/campaign":  true,
		"github.com/omni-orchestrator/omni/journey":   true,
	}
	for _, dep := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(dep, "github.com/omni-orchestrator/omni/") && !allowed[dep],
			strings.HasPrefix(dep, "github.com/jackc/"),
			strings.HasPrefix(dep, "github.com/sendgrid/"),
			strings.HasPrefix(dep, "github.com/twilio/"),
			strings.HasPrefix(dep, "firebase.google.com/"),
			strings.HasPrefix(dep, "github.com/labstack/"):
			t.Errorf("package workflows depends on %s", dep)
		}
	}
}
