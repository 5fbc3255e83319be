package main

import (
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A worker or API without payload keys would put customers' data into
// Temporal in clear: it does not start, and says what to set.
func TestWorkerAndAPIRefuseToStartWithoutPayloadKeys(t *testing.T) {
	bin := build(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OMNI_PAYLOAD_KEYS=") {
			env = append(env, kv)
		}
	}
	for _, command := range []string{"worker", "api"} {
		cmd := exec.Command(bin, command)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); err == nil || code != 1 || !strings.Contains(string(out), "OMNI_PAYLOAD_KEYS is not set") {
			t.Errorf("omni %s without keys: exit %d, %v\n%s", command, code, err, out)
		}
	}
}

// omni dev generates a key on first start and keeps it, so that the dev
// server's journeys still decrypt after a restart.
func TestDevKeepsTheKeyItGenerates(t *testing.T) {
	t.Chdir(t.TempDir())
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := devCodec(quiet)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(devPayloadKey)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v", devPayloadKey, info, err)
	}
	p, err := first.DataConverter().ToPayload("ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	again, err := devCodec(quiet)
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if err := again.DataConverter().FromPayload(p, &got); err != nil || got != "ada@example.com" {
		t.Fatalf("after a restart: %q, %v", got, err)
	}
}
