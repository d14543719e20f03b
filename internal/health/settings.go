package health

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/probe"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are pmguard health's inputs: flags and PMGUARD_HEALTH_* env vars.
type Settings struct {
	config.Shared
	config.Reports
	Endpoints        Endpoints        `env:"ENDPOINTS, required" flag:"endpoint" usage:"an endpoint to check, URL[ STATUS]; repeat the flag, or one per line (or comma-separated) in the env var"`
	ExpectStatus     config.StatusSet `env:"EXPECT_STATUS, default=200" orb:"expected_status" flag:"expect-status" usage:"statuses that pass, unless an endpoint names its own"`
	Timeout          config.Duration  `env:"TIMEOUT, default=5s" flag:"timeout" usage:"time allowed for one request, body included"`
	Retries          config.Count     `env:"RETRIES, default=3" flag:"retries" usage:"failed attempts allowed after the first"`
	Interval         config.Duration  `env:"INTERVAL, default=10s" flag:"interval" usage:"time between the starts of two attempts on one endpoint"`
	Deadline         config.Duration  `env:"DEADLINE" flag:"deadline" usage:"overall cap for the whole check (default: none beyond retries x interval)"`
	SuccessThreshold config.Count     `env:"SUCCESS_THRESHOLD, default=1" flag:"success-threshold" form:"a whole number, 1 or more" usage:"consecutive passing attempts an endpoint needs"`
	Method           string           `env:"METHOD, default=GET" flag:"method" usage:"HTTP method"`
	Headers          config.Lines     `env:"HEADERS" flag:"header" usage:"a request header 'Name: value'; ${VAR} in the value is read from the environment, so secrets stay out of config and argv"`
	BodyRegex        string           `env:"BODY_REGEX" flag:"body-regex" form:"a Go regular expression (RE2 syntax)" usage:"the body (first 1 MiB) must match this regular expression"`
	JSONPath         config.Lines     `env:"JSON_PATH" flag:"json-path" form:"PATH=VALUE, PATH like status or checks.db.status or items[0].state" usage:"PATH=VALUE: the JSON body must hold VALUE at PATH; repeatable"`
	NoFollow         bool             `env:"NO_FOLLOW_REDIRECTS" flag:"no-follow-redirects" usage:"judge a 3xx response itself instead of following it"`
	CAFile           config.File      `env:"CA_FILE" flag:"ca-file" usage:"PEM file of extra CA certificates to trust"`
	ClientCert       config.File      `env:"CLIENT_CERT" flag:"client-cert" usage:"PEM client certificate for mutual TLS"`
	ClientKey        config.File      `env:"CLIENT_KEY" flag:"client-key" usage:"PEM key of the client certificate"`
	Insecure         bool             `env:"INSECURE" flag:"insecure" usage:"skip TLS certificate verification (not for production)"`
	Concurrency      config.Count     `env:"CONCURRENCY, default=100" flag:"concurrency" form:"a whole number, 1 or more" usage:"requests in flight at most, across all endpoints"`
	deploymarker.Settings
}

// Endpoints is the endpoint list as given: one "URL [STATUS]" per line, or
// several separated by commas. A comma only separates endpoints when a URL
// follows it, so "https://x/health 200,204" keeps its status set.
type Endpoints []string

var endpointSep = regexp.MustCompile(`,\s*(?:https?://)`)

func (e *Endpoints) EnvDecode(_ context.Context, v string) error {
	*e = nil
	for _, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, item := range splitEndpoints(line) {
			if item = strings.TrimSpace(item); item != "" {
				*e = append(*e, item)
			}
		}
	}
	return nil
}

func splitEndpoints(line string) []string {
	var out []string
	for {
		loc := endpointSep.FindStringIndex(line)
		if loc == nil {
			return append(out, line)
		}
		out = append(out, line[:loc[0]])
		// Keep the scheme that the separator matched.
		rest := line[loc[0]+1:]
		line = strings.TrimLeft(rest, " \t")
	}
}

func (Endpoints) Form() string {
	return "one URL per line, each optionally followed by a space and its statuses, e.g. https://api.example.com/health 200"
}

// Endpoint is one URL to check and the statuses that pass for it.
type Endpoint struct {
	URL    *url.URL
	Expect config.StatusSet
	name   string
}

// Name is the endpoint as it may be shown: user info and query values
// hidden, but for the parameters PMGUARD_SHOW_QUERY names.
func (e Endpoint) Name() string {
	if e.name == "" {
		return httpx.RedactURL(e.URL.String())
	}
	return e.name
}

// JSONCheck is one --json-path PATH=VALUE.
type JSONCheck struct {
	Path  []pathStep
	Raw   string
	Value string
}

// Options are a health run: the validated settings, what was derived from
// them, and the run's dependencies.
type Options struct {
	Settings
	Targets []Endpoint
	Header  http.Header // sent with every attempt, ${VAR} expanded
	TLS     *tls.Config // nil: system roots

	// RunCLI runs the circleci CLI for deploy markers; nil runs it as a
	// process.
	RunCLI deploymarker.Runner

	bodyRE     *regexp.Regexp
	jsonChecks []JSONCheck
	prober     *probe.Prober
	d          *verb.Deps
	events     *events.Log
}

// New parses and validates pmguard health's settings and builds the prober
// and event log. Every bad input is found here, before any request.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	o := &Options{d: d}
	set, err := d.Load(ctx, "health", args, &o.Settings)
	if err != nil {
		return nil, err
	}
	if err := o.validate(set); err != nil {
		return nil, err
	}
	o.prober = probe.New(probe.Config{
		Method: o.Method, Header: o.Header, UserAgent: "pmguard/" + d.Version,
		Timeout: o.Timeout.Duration, TLS: o.TLS, NoFollow: o.NoFollow, Redactor: d.Redactor, Conns: int(o.Concurrency),
		KeepBody:  o.bodyRE != nil || len(o.jsonChecks) > 0,
		Transport: d.Transport, Now: d.Now,
	})
	if o.events, err = d.Events(o.EventsFile); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *Options) validate(set *config.Set) error {
	s := &o.Settings
	if err := o.parseEndpoints(set); err != nil {
		return err
	}
	if err := s.Settings.Validate(set); err != nil {
		return err
	}
	if s.Timeout.Duration <= 0 {
		return set.Invalid(&s.Timeout, s.Timeout.String(), "must be more than 0", "")
	}
	if s.SuccessThreshold < 1 {
		return set.Invalid(&s.SuccessThreshold, fmt.Sprint(s.SuccessThreshold), "must be 1 or more", "a whole number, 1 or more")
	}
	if s.Concurrency < 1 {
		return set.Invalid(&s.Concurrency, fmt.Sprint(s.Concurrency), "must be 1 or more", "a whole number, 1 or more")
	}
	if !s.NoFollow {
		// A followed redirect is never the answer judged: statuses that
		// are all redirects could never pass.
		for _, t := range o.Targets {
			if onlyRedirects(t.Expect) {
				setting := any(&s.ExpectStatus)
				if t.Expect.String() != s.ExpectStatus.String() {
					setting = &s.Endpoints // the endpoint names its own
				}
				return set.Invalid(setting, t.Expect.String(), "redirects are followed, so a redirect status is never the answer judged: set no_follow_redirects to judge the redirect itself", "")
			}
		}
	}
	urls := make([]*url.URL, len(o.Targets))
	for i, t := range o.Targets {
		urls[i] = t.URL
	}
	req, err := probe.ParseRequest(set, &s.Method, &s.Headers, o.d.Env, o.d.Redactor, urls...)
	if err != nil {
		return err
	}
	o.Header = req.Header
	if s.BodyRegex != "" {
		if o.bodyRE, err = regexp.Compile(s.BodyRegex); err != nil {
			return set.Invalid(&s.BodyRegex, s.BodyRegex, err.Error(), "")
		}
	}
	if err := o.parseJSONPaths(set); err != nil {
		return err
	}
	return o.loadTLS(set)
}

func (o *Options) parseEndpoints(set *config.Set) error {
	s := &o.Settings
	if len(s.Endpoints) == 0 {
		return set.Invalid(&s.Endpoints, "", "no endpoint given", "")
	}
	for _, raw := range s.Endpoints {
		u, status, _ := strings.Cut(raw, " ")
		pu, err := config.ParseURL(u)
		if err != nil {
			return set.Invalid(&s.Endpoints, displayRaw(u), err.Error(), "")
		}
		ep := Endpoint{URL: pu, Expect: s.ExpectStatus, name: o.d.Redactor.URL(pu.String())}
		if status = strings.TrimSpace(status); status != "" {
			st, err := config.ParseStatusSet(status)
			if err != nil {
				return set.Invalid(&s.Endpoints, displayRaw(u)+" "+status, err.Error(), "")
			}
			ep.Expect = st
		}
		o.Targets = append(o.Targets, ep)
	}
	return nil
}

func (o *Options) parseJSONPaths(set *config.Set) error {
	for _, jp := range o.JSONPath {
		path, value, ok := strings.Cut(jp, "=")
		steps, err := parsePath(strings.TrimSpace(path))
		if !ok || err != nil {
			cause := "missing =VALUE"
			if err != nil {
				cause = err.Error()
			}
			return set.Invalid(&o.JSONPath, jp, cause, "")
		}
		o.jsonChecks = append(o.jsonChecks, JSONCheck{Path: steps, Raw: strings.TrimSpace(path), Value: strings.TrimSpace(value)})
	}
	return nil
}

// loadTLS loads the TLS files now, so a file that is not PEM is bad input
// named for the setting that holds it rather than a failure of every attempt.
func (o *Options) loadTLS(set *config.Set) error {
	s := &o.Settings
	switch {
	case s.ClientCert != "" && s.ClientKey == "":
		return set.Required(&s.ClientKey, "a client certificate needs both client_cert and client_key", "")
	case s.ClientCert == "" && s.ClientKey != "":
		return set.Required(&s.ClientCert, "a client certificate needs both client_cert and client_key", "")
	case s.ClientKey != "" && !holdsPrivateKey(string(s.ClientKey)):
		// Named for itself: the pair's error below would name client_cert.
		return set.Invalid(&s.ClientKey, string(s.ClientKey), "holds no PEM private key", "the path of the PEM private key that matches client_cert")
	}
	if s.CAFile != "" {
		if _, err := httpx.TLSConfig(string(s.CAFile), "", "", false); err != nil {
			return set.Invalid(&s.CAFile, string(s.CAFile), err.Error(), "the path of a PEM file of CA certificates")
		}
	}
	conf, err := httpx.TLSConfig(string(s.CAFile), string(s.ClientCert), string(s.ClientKey), s.Insecure)
	if err != nil {
		return set.Invalid(&s.ClientCert, string(s.ClientCert), err.Error(), "client_cert: a PEM certificate; client_key: the PEM private key that matches it")
	}
	o.TLS = conf
	return nil
}

// onlyRedirects reports whether every status st passes is a redirect the
// client follows (301, 302, 303, 307, 308).
func onlyRedirects(st config.StatusSet) bool {
	followed := map[int]bool{301: true, 302: true, 303: true, 307: true, 308: true}
	for code := 100; code <= 599; code++ {
		if st.Contains(code) && !followed[code] {
			return false
		}
	}
	return true
}

// holdsPrivateKey reports whether the file at path holds a PEM private key
// block (a file that cannot be read was refused when it was loaded).
func holdsPrivateKey(path string) bool {
	rest, err := os.ReadFile(path)
	if err != nil {
		return true // the pair's error names it
	}
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, "PRIVATE KEY") {
			return true
		}
	}
}

func displayRaw(raw string) string {
	if _, err := url.Parse(raw); err != nil {
		return "(unparseable URL)"
	}
	return httpx.RedactURL(raw)
}
