package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/omni-orchestrator/omni/auth"
	"github.com/omni-orchestrator/omni/config"
	"github.com/omni-orchestrator/omni/store"
)

const keysUsage = `usage:
  omni keys create --name NAME (--role ROLE | --scopes SCOPE,...) [--expires-in DURATION]
  omni keys list
  omni keys revoke ID

roles: marketer, channel, agent, admin
scopes: admin, campaigns:write, campaigns:read, customers:write, customers:read, events:write
`

// errUsage means the command line was wrong; the usage says how.
var errUsage = errors.New("usage")

// keys manages API keys in the database at DATABASE_URL: the key of a
// new one goes to out alone (so that a script can capture it), what is
// said about it to info.
func keys(ctx context.Context, cfg config.Config, args []string, out, info io.Writer) error {
	if len(args) == 0 {
		return errUsage
	}
	st, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer st.Close()
	switch args[0] {
	case "create":
		err = createKey(ctx, st, args[1:], out, info)
	case "list":
		if len(args) != 1 {
			return errUsage
		}
		err = listKeys(ctx, st, out)
	case "revoke":
		if len(args) != 2 {
			return errUsage
		}
		var key store.APIKey
		key, err = st.RevokeKey(ctx, args[1])
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no API key %q (omni keys list shows them)", args[1])
		}
		if err == nil {
			fmt.Fprintf(info, "Revoked API key %s (%s); API processes refuse it within %s.\n", key.ID, key.Name, auth.Refresh)
		}
	default:
		return errUsage
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("%w: the database has no API keys yet; run `omni migrate` first", err)
	}
	return err
}

func createKey(ctx context.Context, st *store.Store, args []string, out, info io.Writer) error {
	flags := flag.NewFlagSet("omni keys create", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	name := flags.String("name", "", "what the key is for")
	role := flags.String("role", "", "a role: marketer, channel, agent or admin")
	scopeList := flags.String("scopes", "", "scopes, comma-separated")
	expiresIn := flags.Duration("expires-in", 0, "how long the key is valid (e.g. 2160h); never expires without")
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 {
		return errUsage
	}
	var scopes []auth.Scope
	var err error
	switch {
	case (*role == "") == (*scopeList == ""):
		return fmt.Errorf("give exactly one of --role or --scopes")
	case *role != "":
		scopes, err = auth.Role(*role)
	default:
		scopes, err = auth.ParseScopes(strings.Split(*scopeList, ","))
	}
	if err != nil {
		return err
	}
	var expiresAt *time.Time
	if *expiresIn != 0 {
		t := time.Now().Add(*expiresIn)
		expiresAt = &t
	}
	key, token, err := auth.Create(ctx, st, *name, scopes, expiresAt)
	if err != nil {
		return err
	}
	expiry := "never expires"
	if key.ExpiresAt != nil {
		expiry = "expires at " + key.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(info, "Created API key %s (%s) with %s; it %s.\nThis is the only time it is shown:\n", key.ID, key.Name, strings.Join(key.Scopes, ", "), expiry)
	fmt.Fprintln(out, token)
	return nil
}

func listKeys(ctx context.Context, st *store.Store, out io.Writer) error {
	keys, err := st.Keys(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATUS")
	when := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, k := range keys {
		status := "valid"
		switch {
		case k.RevokedAt != nil:
			status = "revoked " + when(k.RevokedAt)
		case k.ExpiresAt != nil && k.ExpiresAt.Before(time.Now()):
			status = "expired"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), when(&k.CreatedAt),
			when(k.ExpiresAt), when(k.LastUsedAt), status)
	}
	return w.Flush()
}

// devKeyFile is where `omni dev` keeps its admin key, beside the dev
// server's state.
const devKeyFile = ".data/dev-api-key"

// devKey is `omni dev`'s admin key: the one in path while the database
// takes it, else a new one, written there (readable by the user only).
func devKey(ctx context.Context, st *store.Store, logger *slog.Logger, path string) (string, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		token := strings.TrimSpace(string(data))
		_, err := auth.NewKeys(st, logger).Authenticate(ctx, token)
		var refused *auth.KeyError
		if !errors.As(err, &refused) {
			return token, err
		}
		// Revoked, or made for another database: make a new one.
	case !errors.Is(err, fs.ErrNotExist):
		return "", err
	}
	_, token, err := auth.Create(ctx, st, "omni dev", auth.Scopes, nil)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", err
	}
	return token, os.Chmod(path, 0o600) // WriteFile keeps an existing file's mode
}
