package health_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/verb"
)

// ca is a throwaway certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issueClient writes a client certificate signed by c and its key to dir.
func (c *ca) issueClient(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certFile = writeFile(t, dir, name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	keyFile = writeFile(t, dir, name+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return certFile, keyFile
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func serverCertPEM(srv *httptest.Server) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}

func quietTLSServer(t *testing.T, conf *tls.Config) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = conf
	srv.Config.ErrorLog = discardLog() // failed handshakes are the point here
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func TestTLSServerCertificate(t *testing.T) {
	srv := quietTLSServer(t, nil)
	dir := t.TempDir()
	own := writeFile(t, dir, "server-ca.pem", serverCertPEM(srv))
	other := writeFile(t, dir, "other-ca.pem", newCA(t, "some other CA").pem)
	const unknown = "TLS: certificate signed by an unknown authority (set ca_file, or insecure for a test server)"
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantReason string // "" = pass
	}{
		{"unknown CA", nil, nil, unknown},
		{"another CA", []string{"--ca-file", other}, nil, unknown},
		{"the server's CA by flag", []string{"--ca-file", own}, nil, ""},
		{"the server's CA by env", nil, map[string]string{"PMGUARD_HEALTH_CA_FILE": own}, ""},
		{"insecure", []string{"--insecure"}, nil, ""},
		{"insecure by env", nil, map[string]string{"PMGUARD_HEALTH_INSECURE": "true"}, ""},
		// The test certificate names 127.0.0.1 and example.com, not localhost.
		{"wrong host name", []string{"--ca-file", own}, nil, "TLS: x509: certificate is valid for example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := srv.URL
			if tt.name == "wrong host name" {
				url = strings.Replace(url, "127.0.0.1", "localhost", 1)
			}
			args := []string{"--endpoint", url, "--retries", "1"}
			o := check(t, tt.env, append(args, tt.args...)...)
			if tt.wantReason == "" {
				if o.code != exitcode.Pass {
					t.Fatalf("exit %d: %s", o.code, o.out)
				}
				return
			}
			assertFault(t, o, 2, tt.wantReason)
		})
	}
}

// TestPhaseFigures: with the real clock, an attempt records its phases as
// blackbox_exporter does (how long they took is not judged here).
func TestPhaseFigures(t *testing.T) {
	srv := quietTLSServer(t, nil)
	o := checkWith(t, nil, []string{"--endpoint", srv.URL, "--insecure"}, func(o *verb.Deps) {
		o.Now, o.Sleep = time.Now, clock.Sleep
	})
	a := o.attempt(t, 0, 0)
	if a.ConnectMS <= 0 || a.TLSMS <= 0 || a.TTFBMS <= 0 || a.LatencyMS < a.TTFBMS || a.Status != 200 {
		t.Errorf("figures missing: %+v", a)
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	clientCA := newCA(t, "client CA")
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	srv := quietTLSServer(t, &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool})
	serverCA := writeFile(t, dir, "server-ca.pem", serverCertPEM(srv))
	goodCert, goodKey := clientCA.issueClient(t, dir, "deployer")
	strangerCert, strangerKey := newCA(t, "stranger CA").issueClient(t, dir, "stranger")

	tests := []struct {
		name       string
		args       []string
		wantReason string
	}{
		{"with the client certificate", []string{"--client-cert", goodCert, "--client-key", goodKey}, ""},
		{"without a client certificate", nil, "TLS: the server refused the connection (tls: certificate required)"},
		{"with a certificate the server does not trust", []string{"--client-cert", strangerCert, "--client-key", strangerKey}, "TLS: the server refused the connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := check(t, nil, append([]string{"--endpoint", srv.URL, "--ca-file", serverCA, "--retries", "1"}, tt.args...)...)
			if tt.wantReason == "" {
				if o.code != exitcode.Pass {
					t.Fatalf("exit %d: %s", o.code, o.out)
				}
				return
			}
			assertFault(t, o, 2, tt.wantReason)
		})
	}
}
