// Package circleci is a typed client for the CircleCI API v2: one file per
// API area (pipelines, workflows, jobs, projects, deploys, insights),
// pagination over next_page_token as iterators, and typed *APIError values
// carrying the status, message, request id and rate-limit reset.
//
// Every request goes through internal/httpx, so 429 (with Retry-After) and
// 5xx responses are retried with bounded backoff; the final error response is
// decoded into an *APIError. The token travels only in the Circle-Token
// header and is registered with the client's redactor.
package circleci

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
)

// DefaultHost is CircleCI cloud; CircleCI server installs set
// PMGUARD_CIRCLECI_HOST to their own host.
const DefaultHost = "https://circleci.com"

// HostEnv is the env var naming the CircleCI host.
const HostEnv = "PMGUARD_CIRCLECI_HOST"

// HostForm is the accepted form of PMGUARD_CIRCLECI_HOST.
const HostForm = "the host's URL with its scheme, such as https://circleci.com or https://circleci.example.com"

// DefaultTokenEnv is the env var read for the API token unless told otherwise.
const DefaultTokenEnv = "CIRCLE_TOKEN"

// maxBody bounds how much of a response body is read.
const maxBody = 16 << 20

// Options configures a Client.
type Options struct {
	// Host is the CircleCI host ("https://circleci.com"); the API base is
	// Host + "/api/v2". A Host that already ends in /api/v2 is used as is.
	Host string
	// Token is the API token sent in the Circle-Token header.
	Token string
	// TokenEnv names the env var the token came from, for error messages.
	TokenEnv string
	// HTTP sends every request; nil builds a default httpx client.
	HTTP *httpx.Client
	// DryRun, when set, receives each write (POST, PUT, PATCH, DELETE)
	// instead of it being sent; the write then returns ErrDryRun. Reads are
	// still sent.
	DryRun func(Request)
}

// Client is a CircleCI API v2 client. It is safe for concurrent use.
type Client struct {
	base     *url.URL
	token    string
	tokenEnv string
	http     *httpx.Client
	dryRun   func(Request)
	calls    atomic.Int64
	writes   atomic.Int64

	Pipelines *PipelinesService
	Workflows *WorkflowsService
	Jobs      *JobsService
	Projects  *ProjectsService
	Deploy    *DeployService
	Insights  *InsightsService
}

// Request is one API request as pmguard would send it; the token is never
// part of it.
type Request struct {
	Method string
	Path   string // relative to the API base, with the query string
	Body   []byte // JSON, or nil
}

// String renders the request for a dry run: method, path and body.
func (r Request) String() string {
	s := r.Method + " " + r.Path
	if len(r.Body) > 0 {
		s += " " + string(r.Body)
	}
	return s
}

// ErrDryRun is returned by writes on a client in dry-run mode.
var ErrDryRun = errors.New("dry run: request not sent")

// New builds a Client. An empty host means DefaultHost; a host that is not an
// http(s) URL is bad input.
func New(o Options) (*Client, error) {
	host := strings.TrimSpace(o.Host)
	if host == "" {
		host = DefaultHost
	}
	u, err := config.ParseBaseURL(host)
	if err != nil {
		return nil, config.Invalidf("invalid CircleCI host %q (env %s): %v; accepted: %s", httpx.RedactURL(host), HostEnv, err, HostForm)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(u.Path, "/api/v2") {
		u.Path += "/api/v2"
	}
	hc := o.HTTP
	if hc == nil {
		hc = httpx.New(httpx.Options{})
	}
	hc.Redactor().Add(o.Token)
	hc.Redactor().AddURL(u)
	tokenEnv := o.TokenEnv
	if tokenEnv == "" {
		tokenEnv = DefaultTokenEnv
	}
	c := &Client{base: u, token: o.Token, tokenEnv: tokenEnv, http: hc, dryRun: o.DryRun}
	c.Pipelines = &PipelinesService{c}
	c.Workflows = &WorkflowsService{c}
	c.Jobs = &JobsService{c}
	c.Projects = &ProjectsService{c}
	c.Deploy = &DeployService{c}
	c.Insights = &InsightsService{c}
	return c, nil
}

// FromEnv builds a Client from the environment: the host from
// PMGUARD_CIRCLECI_HOST and the token from the env var named o.TokenEnv
// (CIRCLE_TOKEN when empty). o.Host and o.Token are ignored. A missing token
// is bad input (exit 2), found before any request.
func FromEnv(env config.Env, o Options) (*Client, error) {
	if o.TokenEnv == "" {
		o.TokenEnv = DefaultTokenEnv
	}
	o.Token = strings.TrimSpace(config.Get(env, o.TokenEnv))
	if o.Token == "" {
		return nil, config.Invalid(&TokenError{Env: o.TokenEnv})
	}
	o.Host = config.Get(env, HostEnv)
	return New(o)
}

// BaseURL is the API base, such as https://circleci.com/api/v2.
func (c *Client) BaseURL() string { return c.base.String() }

// AppURL is the web app's base: https://app.circleci.com for CircleCI cloud,
// the host itself for a server install.
func (c *Client) AppURL() string {
	h := c.base.Hostname()
	if h == "circleci.com" || h == "www.circleci.com" {
		return "https://app.circleci.com"
	}
	u := *c.base
	u.Path = ""
	return u.String()
}

// Calls is how many requests the client has sent (retries not counted).
func (c *Client) Calls() int64 { return c.calls.Load() }

// Writes is how many write requests the client has sent.
func (c *Client) Writes() int64 { return c.writes.Load() }

// TokenEnv is the env var the token came from.
func (c *Client) TokenEnv() string { return c.tokenEnv }

// pathEscape escapes each segment of p but keeps its slashes: project slugs
// (gh/org/repo) travel unescaped, as CircleCI's own clients send them.
func pathEscape(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// do sends one request and decodes a 2xx JSON body into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	rawPath := path
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	// Messages name the request with its query values hidden: a page token,
	// a branch or any value can be a secret.
	shown := c.http.Redactor().URL(path)
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, shown, err)
		}
		body = b
	}
	write := method != http.MethodGet && method != http.MethodHead
	if write && c.dryRun != nil {
		c.dryRun(Request{Method: method, Path: path, Body: body})
		return ErrDryRun
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Circle-Token", c.token)
	c.calls.Add(1)
	if write {
		c.writes.Add(1)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _, err := httpx.ReadLimited(resp.Body, maxBody)
	if err != nil && !errors.Is(err, io.EOF) {
		return c.http.Redactor().Error(fmt.Errorf("%s %s: reading the response: %w", method, shown, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp, data, method, shown, c.tokenEnv, c.http.Redactor())
	}
	return decode(data, out, method, rawPath)
}

// call sends one request and decodes its 2xx JSON answer into a new T: the
// shape of every operation that answers with one object.
func call[T any](ctx context.Context, c *Client, method, path string, in any) (*T, error) {
	var out T
	err := c.do(ctx, method, path, nil, in, &out)
	return &out, err
}

// decode reads a 2xx body into out and checks that it has the fields the
// operation always returns.
func decode(data []byte, out any, method, path string) error {
	if out == nil {
		return nil
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return &UnexpectedResponseError{Method: method, Path: path, Problem: "not the expected JSON: " + err.Error()}
		}
	}
	if s, ok := out.(shaped); ok {
		if f := s.missing(); f != "" {
			return &UnexpectedResponseError{Method: method, Path: path, Problem: "field " + f + " missing"}
		}
	}
	return nil
}

// download GETs an absolute URL (an artifact) with the token, reading at
// most limit bytes. Artifact URLs may point at another host (a CDN), so the
// token is sent only when the URL is on the API's host.
func (c *Client) download(ctx context.Context, raw string, limit int64) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("artifact URL %q is not an http(s) URL", httpx.RedactURL(raw))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	if u.Host == c.base.Host {
		req.Header.Set("Circle-Token", c.token)
	}
	c.calls.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _, err := httpx.ReadLimited(resp.Body, limit)
	if err != nil {
		return nil, c.http.Redactor().Error(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(resp, data, http.MethodGet, c.http.Redactor().URL(u.String()), c.tokenEnv, c.http.Redactor())
	}
	return data, nil
}
