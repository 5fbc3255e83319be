package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/omni-orchestrator/omni/internal/testenv"
)

// noConfigFile keeps a developer's own Temporal CLI profile out of a test.
func noConfigFile(t *testing.T) {
	t.Setenv("TEMPORAL_CONFIG_FILE", filepath.Join(t.TempDir(), "none.toml"))
}

func TestTemporalDefaultsToTheLocalDevServer(t *testing.T) {
	noConfigFile(t)
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	o := c.Temporal
	if o.HostPort != "127.0.0.1:7233" || o.Namespace != "default" || o.Credentials != nil || o.ConnectionOptions.TLS != nil {
		t.Fatalf("defaults: %+v", o)
	}
}

// An API key (Temporal Cloud) turns TLS on; certificates and the server's
// CA come from TEMPORAL_TLS_*.
func TestTemporalAPIKeyAndTLSFromTheEnvironment(t *testing.T) {
	noConfigFile(t)
	pki := newPKI(t)
	t.Setenv("TEMPORAL_ADDRESS", "eu-west-1.aws.api.temporal.io:7233")
	t.Setenv("TEMPORAL_NAMESPACE", "omni.a1b2c")
	t.Setenv("TEMPORAL_API_KEY", "the-api-key")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	o := c.Temporal
	if o.HostPort != "eu-west-1.aws.api.temporal.io:7233" || o.Namespace != "omni.a1b2c" || o.Credentials == nil || o.ConnectionOptions.TLS == nil {
		t.Fatalf("API key: %+v", o)
	}

	t.Setenv("TEMPORAL_API_KEY", "")
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", pki.clientCert)
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", pki.clientKey)
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", pki.caCert)
	t.Setenv("TEMPORAL_TLS_SERVER_NAME", "temporal.internal")
	if c, err = FromEnv(); err != nil {
		t.Fatal(err)
	}
	tc := c.Temporal.ConnectionOptions.TLS
	if c.Temporal.Credentials != nil || tc == nil || len(tc.Certificates) != 1 || tc.RootCAs == nil || tc.ServerName != "temporal.internal" {
		t.Fatalf("mTLS: %+v", tc)
	}
}

// A profile of the Temporal CLI's config file works as it does for the
// CLI, variables over it.
func TestTemporalProfileFromTheConfigFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "temporal.toml")
	if err := os.WriteFile(file, []byte(`
[profile.cloud]
address = "omni.a1b2c.tmprl.cloud:7233"
namespace = "omni.a1b2c"
api_key = "from-the-file"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEMPORAL_CONFIG_FILE", file)
	t.Setenv("TEMPORAL_PROFILE", "cloud")
	t.Setenv("TEMPORAL_NAMESPACE", "omni-staging.a1b2c")
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if o := c.Temporal; o.HostPort != "omni.a1b2c.tmprl.cloud:7233" || o.Namespace != "omni-staging.a1b2c" || o.Credentials == nil {
		t.Fatalf("profile: %+v", o)
	}
	t.Setenv("TEMPORAL_PROFILE", "prod")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "prod") {
		t.Fatalf("a missing profile: %v", err)
	}
}

func TestBadTemporalSettingsStopOmni(t *testing.T) {
	noConfigFile(t)
	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", filepath.Join(t.TempDir(), "missing.pem"))
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", filepath.Join(t.TempDir(), "missing.key"))
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "TEMPORAL_") || !strings.Contains(err.Error(), "missing.pem") {
		t.Fatalf("missing certificate: %v", err)
	}
}

// omni reaches a Temporal server that requires TLS, a client certificate
// and an API key, configured by TEMPORAL_* alone: a TLS front of a dev
// server that checks all three, as a secured cluster or Temporal Cloud
// does.
func TestTemporalOverTLSWithClientCertificateAndAPIKey(t *testing.T) {
	noConfigFile(t)
	pki := newPKI(t)
	front := secureFront(t, testenv.DevServer(t).FrontendHostPort(), pki, "the-api-key")
	t.Setenv("TEMPORAL_ADDRESS", front.addr)
	t.Setenv("TEMPORAL_API_KEY", "the-api-key")
	t.Setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", front.caCert)

	dial := func() (client.Client, error) {
		c, err := FromEnv()
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return client.DialContext(ctx, c.Temporal)
	}
	if c, err := dial(); err == nil {
		c.Close()
		t.Fatal("connected without a client certificate")
	}

	t.Setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", pki.clientCert)
	t.Setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", pki.clientKey)
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.WorkflowService().DescribeNamespace(context.Background(), &workflowservice.DescribeNamespaceRequest{Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	if seen := front.seen(); seen != "omni-worker Bearer the-api-key" {
		t.Fatalf("the server saw %q", seen)
	}
}

// pki is a CA and a client certificate it signed, as PEM files.
type pki struct {
	ca                            *x509.Certificate
	caKey                         *ecdsa.PrivateKey
	caCert, clientCert, clientKey string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{caCert: filepath.Join(dir, "ca.pem"), clientCert: filepath.Join(dir, "client.pem"), clientKey: filepath.Join(dir, "client.key")}
	var err error
	if p.caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "omni test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, ca, ca, &p.caKey.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.ca, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.caCert, "CERTIFICATE", der)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "omni-worker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	if der, err = x509.CreateCertificate(rand.Reader, leaf, p.ca, &key.PublicKey, p.caKey); err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.clientCert, "CERTIFICATE", der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, p.clientKey, "PRIVATE KEY", keyDER)
	return p
}

func writePEM(t *testing.T, file, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// front is a TLS server before a dev server's gRPC frontend.
type front struct {
	addr, caCert string
	mu           sync.Mutex
	last         string
}

func (f *front) seen() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// secureFront terminates TLS for backend, requires a client certificate
// of p's CA and the API key, and passes gRPC on in clear (HTTP/2).
func secureFront(t *testing.T, backend string, p *pki, apiKey string) *front {
	t.Helper()
	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	proxy := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(&url.URL{Scheme: "http", Host: backend}) },
		Transport: &http.Transport{Protocols: &h2c},
	}
	f := &front{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		f.mu.Lock()
		f.last = r.TLS.PeerCertificates[0].Subject.CommonName + " " + auth
		f.mu.Unlock()
		if auth != "Bearer "+apiKey {
			http.Error(w, "unknown API key", http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	clientCAs := x509.NewCertPool()
	clientCAs.AddCert(p.ca)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the test
	srv.StartTLS()
	t.Cleanup(srv.Close)
	f.addr = srv.Listener.Addr().String()
	f.caCert = filepath.Join(t.TempDir(), "server-ca.pem")
	writePEM(t, f.caCert, "CERTIFICATE", srv.Certificate().Raw)
	return f
}
