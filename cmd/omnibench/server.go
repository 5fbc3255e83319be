package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Databases of the PostgreSQL-backed Temporal server: its own, created
// afresh for each run and dropped after it.
const (
	temporalDB           = "temporal_bench"
	temporalVisibilityDB = "temporal_bench_visibility"
)

// postgresTemporal is a Temporal server (the binary `make bench` builds from
// go.temporal.io/server, the version docker-compose.yml deploys) persisting
// to PostgreSQL: the production topology, on loopback.
type postgresTemporal struct {
	cmd      *exec.Cmd
	hostPort string
	dir      string
	pgServer string
}

// startPostgresTemporal sets up the server's schemas in fresh databases on
// pgServer (a postgres:// URL without a database), writes its config with
// ports of its own, starts it and registers the default namespace.
func startPostgresTemporal(ctx context.Context, bin, pgServer string) (*postgresTemporal, error) {
	u, err := url.Parse(pgServer)
	if err != nil {
		return nil, fmt.Errorf("BENCH_POSTGRES: %w", err)
	}
	host, port := u.Hostname(), cmp.Or(u.Port(), "5432")
	user, password := u.User.Username(), ""
	if p, ok := u.User.Password(); ok {
		password = p
	}
	for _, db := range []string{temporalDB, temporalVisibilityDB} {
		if err := recreateDatabase(ctx, pgServer, db); err != nil {
			return nil, err
		}
	}
	sqlTool := filepath.Join(filepath.Dir(bin), "temporal-sql-tool")
	for db, schema := range map[string]string{temporalDB: "postgresql/v12/temporal", temporalVisibilityDB: "postgresql/v12/visibility"} {
		base := []string{"--plugin", "postgres12", "--ep", host, "-p", port, "-u", user, "--pw", password, "--db", db}
		for _, args := range [][]string{{"setup-schema", "-v", "0.0"}, {"update-schema", "--schema-name", schema}} {
			if out, err := exec.CommandContext(ctx, sqlTool, append(base, args...)...).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("temporal-sql-tool %s on %s: %w\n%s", args[0], db, err, out)
			}
		}
	}

	dir, err := os.MkdirTemp("", "omnibench-temporal-")
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(9)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "config"), 0o755); err != nil {
		return nil, err
	}
	dynamic := filepath.Join(dir, "dynamicconfig.yaml")
	if err := os.WriteFile(dynamic, []byte(dynamicConfig), 0o644); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(serverConfig, host, port, user, password, temporalDB, temporalVisibilityDB,
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8], dynamic)
	if err := os.WriteFile(filepath.Join(dir, "config", "development.yaml"), []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "--root", dir, "--config", "config", "--env", "development", "--allow-no-auth", "start")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// The server goes with the bench, however the bench ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &postgresTemporal{cmd: cmd, hostPort: "127.0.0.1:" + strconv.Itoa(ports[0]), dir: dir, pgServer: pgServer}
	if err := s.registerNamespace(ctx); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		s.Stop()
		return nil, fmt.Errorf("temporal server on PostgreSQL: %w\n%s", err, tail(log, 4000))
	}
	return s, nil
}

// registerNamespace waits for the frontend and registers "default" (which
// the dev server and the compose file's setup service create).
func (s *postgresTemporal) registerNamespace(ctx context.Context) error {
	return retry(2*time.Minute, func() error {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.hostPort, Logger: quietLogger()})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: "default", WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour),
		})
		var exists *serviceerror.NamespaceAlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
}

// Stop stops the server and drops its databases.
func (s *postgresTemporal) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	_ = os.RemoveAll(s.dir)
	for _, db := range []string{temporalDB, temporalVisibilityDB} {
		dropDatabase(s.pgServer, db)
	}
}

func recreateDatabase(ctx context.Context, server, db string) error {
	conn, err := pgx.Connect(ctx, server+"/postgres?sslmode=disable")
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return err
}

// freePorts finds n ports nobody listens on, below 32768: the server
// stores its membership ports as PostgreSQL smallints, and the kernel's
// own picks (ephemeral ports) lie above.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	for port := 20000 + rand.IntN(10000); len(ports) < n && port < 32768; port++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, port)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("found %d free ports below 32768, want %d", len(ports), n)
	}
	return ports, nil
}

func tail(b []byte, n int) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// serverConfig is the server's static config: PostgreSQL persistence and
// SQL visibility (as docker-compose.yml's temporalio/server runs it, with
// its 4 history shards), every service in one process on loopback.
const serverConfig = `log:
  stdout: true
  level: warn
persistence:
  defaultStore: default
  visibilityStore: visibility
  numHistoryShards: 4
  datastores:
    default:
      sql:
        pluginName: postgres12
        connectAddr: "%[1]s:%[2]s"
        connectProtocol: tcp
        user: %[3]q
        password: %[4]q
        databaseName: %[5]s
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: 1h
    visibility:
      sql:
        pluginName: postgres12
        connectAddr: "%[1]s:%[2]s"
        connectProtocol: tcp
        user: %[3]q
        password: %[4]q
        databaseName: %[6]s
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: 1h
global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: 127.0.0.1
services:
  frontend:
    rpc: {grpcPort: %[7]d, membershipPort: %[8]d, httpPort: %[9]d, bindOnLocalHost: true}
  history:
    rpc: {grpcPort: %[10]d, membershipPort: %[11]d, bindOnLocalHost: true}
  matching:
    rpc: {grpcPort: %[12]d, membershipPort: %[13]d, bindOnLocalHost: true}
  worker:
    rpc: {grpcPort: %[14]d, membershipPort: %[15]d, bindOnLocalHost: true}
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: frontend
      rpcAddress: "127.0.0.1:%[7]d"
dcRedirectionPolicy:
  policy: noop
dynamicConfigClient:
  filepath: %[16]q
  pollInterval: 10s
`

// dynamicConfig: journey ids are up to 255 characters (campaign.CustomerID).
const dynamicConfig = `limit.maxIDLength:
  - value: 255
`
