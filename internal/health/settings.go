package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
)

// Settings are pmguard health's inputs: flags and PMGUARD_HEALTH_* env vars.
type Settings struct {
	config.Shared
	config.Reports
	Endpoints        Endpoints        `env:"ENDPOINTS, required" flag:"endpoint" usage:"an endpoint to check, URL[ STATUS]; repeat the flag, or one per line (or comma-separated) in the env var"`
	ExpectStatus     config.StatusSet `env:"EXPECT_STATUS, default=200" flag:"expect-status" usage:"statuses that pass, unless an endpoint names its own"`
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
}

// Name is the endpoint as it may be shown: user info and token-like query
// values hidden.
func (e Endpoint) Name() string { return displayURL(e.URL) }

// JSONCheck is one --json-path PATH=VALUE.
type JSONCheck struct {
	Path  []pathStep
	Raw   string
	Value string
}

// Plan is validated settings, ready to run.
type Plan struct {
	Endpoints        []Endpoint
	Timeout          time.Duration
	Retries          int
	Interval         time.Duration
	Deadline         time.Duration
	SuccessThreshold int
	Method           string
	Header           http.Header
	Secrets          []string // header values read from the environment
	BodyRegex        *regexp.Regexp
	JSONChecks       []JSONCheck
	Concurrency      int
	TLS              *tls.Config // nil: system roots
	NoFollow         bool
}

// HTTPClient is the client attempts are sent with. It has no retries of its
// own (the poll loop is the retry) and no overall timeout (each attempt has
// its own); 3xx responses are judged themselves when NoFollow is set.
func (p *Plan) HTTPClient() *http.Client {
	c := &http.Client{Transport: httpx.NewTransport(p.TLS)}
	if p.NoFollow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return c
}

// Validate checks the settings without touching the network and returns the
// plan. Errors name the setting, its env var and the accepted form.
func Validate(s *Settings, set *config.Set, env config.Env) (*Plan, error) {
	p := &Plan{
		Timeout:          s.Timeout.Duration,
		Retries:          int(s.Retries),
		Interval:         s.Interval.Duration,
		Deadline:         s.Deadline.Duration,
		SuccessThreshold: int(s.SuccessThreshold),
		Method:           strings.ToUpper(strings.TrimSpace(s.Method)),
		Header:           http.Header{},
		Concurrency:      int(s.Concurrency),
	}
	if len(s.Endpoints) == 0 {
		return nil, set.Invalid("Endpoints", "", "no endpoint given", "")
	}
	for _, raw := range s.Endpoints {
		u, status, _ := strings.Cut(raw, " ")
		pu, err := config.ParseURL(u)
		if err != nil {
			return nil, set.Invalid("Endpoints", displayRaw(u), err.Error(), "")
		}
		// A password or token in the URL is shown redacted; registering it
		// also keeps it out of any message that quotes the URL.
		p.Secrets = append(p.Secrets, httpx.URLSecrets(pu)...)
		ep := Endpoint{URL: pu, Expect: s.ExpectStatus}
		if status = strings.TrimSpace(status); status != "" {
			st, err := config.ParseStatusSet(status)
			if err != nil {
				return nil, set.Invalid("Endpoints", displayRaw(u)+" "+status, err.Error(), "")
			}
			ep.Expect = st
		}
		p.Endpoints = append(p.Endpoints, ep)
	}
	if p.Timeout <= 0 {
		return nil, set.Invalid("Timeout", s.Timeout.String(), "must be more than 0", "")
	}
	if p.SuccessThreshold < 1 {
		return nil, set.Invalid("SuccessThreshold", fmt.Sprint(p.SuccessThreshold), "must be 1 or more", "a whole number, 1 or more")
	}
	if p.Concurrency < 1 {
		return nil, set.Invalid("Concurrency", fmt.Sprint(p.Concurrency), "must be 1 or more", "a whole number, 1 or more")
	}
	if !httpx.IsToken(p.Method) {
		return nil, set.Invalid("Method", s.Method, "not an HTTP method", "GET, HEAD, POST or another HTTP method token")
	}
	for _, h := range s.Headers {
		name, value, ok := strings.Cut(h, ":")
		name = strings.TrimSpace(name)
		if !ok || !httpx.IsToken(name) {
			// The value may hold a secret: show only the name part.
			return nil, set.Invalid("Headers", name, "not a 'Name: value' header", "'Name: value', one per line; the value may use ${ENV_VAR}")
		}
		// A variable that is not set would send an empty credential and
		// fail every attempt with 401; say so before any request.
		var unset []string
		expanded := os.Expand(strings.TrimSpace(value), func(v string) string {
			got := config.Get(env, v)
			if got == "" {
				unset = append(unset, "${"+v+"}")
			} else {
				p.Secrets = append(p.Secrets, got)
			}
			return got
		})
		if len(unset) > 0 {
			return nil, set.Invalid("Headers", name+": ...", fmt.Sprintf("the value names %s, which is not set in the environment", strings.Join(unset, ", ")),
				"'Name: value', one per line; ${ENV_VAR} in the value must name a variable that is set")
		}
		p.Header.Add(name, expanded)
	}
	if s.BodyRegex != "" {
		re, err := regexp.Compile(s.BodyRegex)
		if err != nil {
			return nil, set.Invalid("BodyRegex", s.BodyRegex, err.Error(), "")
		}
		p.BodyRegex = re
	}
	for _, jp := range s.JSONPath {
		path, value, ok := strings.Cut(jp, "=")
		steps, err := parsePath(strings.TrimSpace(path))
		if !ok || err != nil {
			cause := "missing =VALUE"
			if err != nil {
				cause = err.Error()
			}
			return nil, set.Invalid("JSONPath", jp, cause, "")
		}
		p.JSONChecks = append(p.JSONChecks, JSONCheck{Path: steps, Raw: strings.TrimSpace(path), Value: strings.TrimSpace(value)})
	}
	if (s.ClientCert == "") != (s.ClientKey == "") {
		return nil, set.Invalid("ClientKey", string(s.ClientKey), "a client certificate needs both client_cert and client_key", "")
	}
	// Load the TLS files now, so a file that is not PEM is bad input named
	// for the setting that holds it rather than a failure of every attempt.
	if s.CAFile != "" {
		if _, err := httpx.TLSConfig(string(s.CAFile), "", "", false); err != nil {
			return nil, set.Invalid("CAFile", string(s.CAFile), err.Error(), "the path of a PEM file of CA certificates")
		}
	}
	conf, err := httpx.TLSConfig(string(s.CAFile), string(s.ClientCert), string(s.ClientKey), s.Insecure)
	if err != nil {
		return nil, set.Invalid("ClientCert", string(s.ClientCert), err.Error(), "client_cert: a PEM certificate; client_key: the PEM private key that matches it")
	}
	p.TLS = conf
	p.NoFollow = s.NoFollow
	return p, nil
}

func displayURL(u *url.URL) string { return httpx.RedactURL(u.String()) }

func displayRaw(raw string) string {
	if _, err := url.Parse(raw); err != nil {
		return "(unparseable URL)"
	}
	return httpx.RedactURL(raw)
}
