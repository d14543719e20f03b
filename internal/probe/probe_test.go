package probe_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/probe"
)

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// TestFigures: an attempt over TLS records every phase, the protocol, the
// certificate's expiry and the body size, as blackbox_exporter does (how
// long the phases took is not judged).
func TestFigures(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	p := probe.New(probe.Config{Timeout: 5 * time.Second, TLS: &tls.Config{InsecureSkipVerify: true}, KeepBody: true})
	r := p.Probe(context.Background(), srv.URL)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if r.Status != 200 || r.Proto != "HTTP/1.1" || r.BodyBytes != 15 || string(r.Body) != `{"status":"ok"}` || r.Truncated {
		t.Errorf("response figures %+v", r)
	}
	if r.Connect <= 0 || r.TLS <= 0 || r.TTFB <= 0 || r.Total < r.TTFB || r.Answered.IsZero() {
		t.Errorf("phases %+v", r)
	}
	if !r.CertExpiry.Equal(srv.Certificate().NotAfter) {
		t.Errorf("certificate expiry %v, want %v", r.CertExpiry, srv.Certificate().NotAfter)
	}
}

func TestBodyIsBounded(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 3*probe.MaxBody))
	})
	for _, keep := range []bool{false, true} {
		r := probe.New(probe.Config{Timeout: 5 * time.Second, KeepBody: keep}).Probe(context.Background(), srv.URL)
		if r.Err != nil || r.BodyBytes != probe.MaxBody || !r.Truncated || keep != (len(r.Body) == probe.MaxBody) {
			t.Errorf("keep %v: read %d bytes (kept %d), truncated %v, err %v", keep, r.BodyBytes, len(r.Body), r.Truncated, r.Err)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	r := probe.New(probe.Config{Timeout: 5 * time.Second}).Probe(context.Background(), srv.URL)
	if r.Err != nil || r.Status != 429 || r.RetryAfter != 7*time.Second {
		t.Errorf("status %d, Retry-After %v, err %v", r.Status, r.RetryAfter, r.Err)
	}
}

// silent accepts connections and never answers.
func silent(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
			close(done)
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "http://" + ln.Addr().String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

func TestFailureKinds(t *testing.T) {
	closing := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("short"))
	})
	var loop *httptest.Server
	loop = serve(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, loop.URL, http.StatusFound) })
	hang := silent(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, stop := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer stop()
	tests := []struct {
		name   string
		ctx    context.Context
		url    string
		kind   probe.Kind
		reason string
	}{
		{"refused", context.Background(), freeAddr(t), probe.KindRefused, "connection refused"},
		{"timeout", context.Background(), hang, probe.KindTimeout, "no response within 100ms"},
		{"DNS", context.Background(), "http://pmguard-probe.invalid/", probe.KindDNS, "DNS lookup of pmguard-probe.invalid failed"},
		{"closed early", context.Background(), closing.URL, probe.KindClosed, "connection closed before a complete response"},
		{"redirect loop", context.Background(), loop.URL, probe.KindRedirects, "redirect loop: stopped after 10 redirects"},
		{"caller cancelled", cancelled, hang, probe.KindCancelled, "cancelled"},
		{"caller's deadline", expired, hang, probe.KindDeadline, "deadline reached before a response"},
		{"bad URL", context.Background(), "http://a b/", probe.KindRequest, "cannot build request"},
	}
	p := probe.New(probe.Config{Timeout: 100 * time.Millisecond})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := p.Probe(tt.ctx, tt.url)
			if r.Err == nil || r.Kind != tt.kind || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("kind %q reason %q (err %v), want %q %q", r.Kind, r.Reason, r.Err, tt.kind, tt.reason)
			}
			if strings.Contains(r.Reason, "http://") {
				t.Errorf("reason %q shows the URL; the caller shows it redacted", r.Reason)
			}
		})
	}
}

// TestHeadersSent: the configured headers and User-Agent are sent, a Host
// header sets the request's host, and a header's own User-Agent wins.
func TestHeadersSent(t *testing.T) {
	seen := make(chan *http.Request, 2)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { seen <- r })
	h := http.Header{"X-Canary": {"1"}, "Host": {"api.example"}}
	probe.New(probe.Config{Timeout: time.Second, Header: h, UserAgent: "pmguard/test"}).Probe(context.Background(), srv.URL)
	r := <-seen
	if r.Header.Get("X-Canary") != "1" || r.Host != "api.example" || r.UserAgent() != "pmguard/test" {
		t.Errorf("host %q, headers %v", r.Host, r.Header)
	}
	h.Set("User-Agent", "mine")
	probe.New(probe.Config{Timeout: time.Second, Header: h, UserAgent: "pmguard/test"}).Probe(context.Background(), srv.URL)
	if r := <-seen; r.UserAgent() != "mine" {
		t.Errorf("User-Agent %q", r.UserAgent())
	}
}

type reqSettings struct {
	Method  string       `env:"METHOD, default=GET" flag:"method"`
	Headers config.Lines `env:"HEADERS" flag:"header"`
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    string // the X-Key header sent, when valid
		wantErr []string
	}{
		{"expanded", map[string]string{"KEY": "k-1234-secret"}, []string{"--header", "X-Key: ${KEY}", "--method", "head"}, "k-1234-secret", nil},
		{"unset variable", nil, []string{"--header", "X-Key: ${KEY}"}, "", []string{"headers", "PMGUARD_T_HEADERS", "${KEY}", "not set"}},
		{"empty variable", map[string]string{"KEY": ""}, []string{"--header", "X-Key: $KEY"}, "", []string{"${KEY}", "not set"}},
		{"newline in the value", map[string]string{"KEY": "k-1234-secret\n"}, []string{"--header", "X-Key: ${KEY}"}, "", []string{"headers", "control character"}},
		{"no colon", nil, []string{"--header", "X-Key k-1234-secret"}, "", []string{"headers", "'Name: value'"}},
		{"bad method", nil, []string{"--method", "GE T"}, "", []string{"method", "PMGUARD_T_METHOD", "HTTP method"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s reqSettings
			env := config.MapEnv(tt.env)
			set, _, err := config.Load(context.Background(), "t", tt.args, env, &s, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			red := httpx.NewRedactor()
			u, _ := config.ParseURL("https://user:pw-5678@a.example/h?token=tk-9012")
			req, err := probe.ParseRequest(set, &s.Method, &s.Headers, env, red, u)
			if tt.wantErr != nil {
				var ie *config.InputError
				if !errors.As(err, &ie) {
					t.Fatalf("err %v, want an InputError", err)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "k-1234-secret") {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil || req.Header.Get("X-Key") != tt.want || req.Method != "HEAD" || s.Method != "HEAD" {
				t.Fatalf("request %+v, err %v", req, err)
			}
			for _, secret := range []string{tt.want, "pw-5678", "tk-9012"} {
				if got := red.Redact(secret); got != "[REDACTED]" {
					t.Errorf("%s not registered with the redactor", secret)
				}
			}
		})
	}
}
