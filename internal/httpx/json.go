package httpx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxJSONBody bounds the JSON answers DoJSON reads.
const MaxJSONBody = 32 << 20

// StatusError is an API's answer that was not 2xx, after the retries the
// policy allows. Message is the API's own words when it gave any, redacted.
type StatusError struct {
	API     string // "PagerDuty", "GitHub" ...
	Method  string
	Path    string // the URL's path, without query
	Status  int
	Message string // bounded (Redactor.Quote)
	// RetryAfter is the wait a final 429 or 503 asked for, when it did.
	RetryAfter    time.Duration
	HasRetryAfter bool
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s %s: HTTP %d%s: %s", e.API, e.Method, e.Path, e.Status, e.limited(), msg)
}

// limited says that a 429 is a rate limit, and what wait the server asked
// for (pmguard's retries, each waiting at most MaxRetryAfter, are spent).
func (e *StatusError) limited() string {
	switch {
	case e.Status == http.StatusTooManyRequests && e.HasRetryAfter:
		return fmt.Sprintf(" (rate limited; the server asks to wait %s)", WaitText(e.RetryAfter))
	case e.Status == http.StatusTooManyRequests:
		return " (rate limited)"
	case e.HasRetryAfter:
		return fmt.Sprintf(" (the server asks to wait %s)", WaitText(e.RetryAfter))
	}
	return ""
}

// DoJSON sends a request with an optional JSON body and decodes a 2xx JSON
// answer into out (nil: ignored). A non-2xx answer is a *StatusError whose
// message is read from the usual error fields; an answer that is not JSON,
// or larger than MaxJSONBody, is an error naming the API. It returns the
// answer's headers (pagination links, rate limits).
func (c *Client) DoJSON(ctx context.Context, api, method, url string, header http.Header, in, out any) (http.Header, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, c.redactor.Error(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		var we *WaitError
		if errors.As(err, &we) {
			return nil, fmt.Errorf("%s: %w", api, err)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: no answer before the deadline: %w", api, err)
		}
		return nil, fmt.Errorf("%s is unreachable: %w", api, err)
	}
	defer resp.Body.Close()
	data, truncated, err := ReadLimited(resp.Body, MaxJSONBody)
	path := c.redactor.URL(req.URL.Path)
	if err != nil {
		return resp.Header, fmt.Errorf("%s %s %s: reading the answer: %w", api, method, path, c.redactor.Error(err))
	}
	if resp.StatusCode/100 != 2 {
		se := &StatusError{API: api, Method: method, Path: path, Status: resp.StatusCode, Message: c.redactor.Quote(apiMessage(data))}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			se.RetryAfter, se.HasRetryAfter = c.o.RetryAfter(resp, time.Now())
		}
		return resp.Header, se
	}
	if truncated {
		return resp.Header, fmt.Errorf("%s %s %s: answer larger than %d MiB", api, method, path, MaxJSONBody>>20)
	}
	if resp.StatusCode == http.StatusNoContent {
		return resp.Header, nil
	}
	if out == nil {
		// Nothing is read from the answer, but a 2xx that is not JSON (a
		// proxy's or login page's HTML) is not the API saying it did it.
		if len(bytes.TrimSpace(data)) > 0 && !json.Valid(data) {
			return resp.Header, fmt.Errorf("%s %s %s: HTTP %d but not JSON: %s", api, method, path, resp.StatusCode, c.redactor.Quote(string(data)))
		}
		return resp.Header, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.Header, fmt.Errorf("%s %s %s: HTTP %d but not the expected JSON (%v): %s", api, method, path, resp.StatusCode, err, c.redactor.Quote(string(data)))
	}
	return resp.Header, nil
}

// apiMessage picks an error message from the shapes vendors use: message,
// error (string or {message}), errors (strings or {message}), errorMessages.
func apiMessage(b []byte) string {
	var v struct {
		Message       string            `json:"message"`
		Error         json.RawMessage   `json:"error"`
		Errors        []json.RawMessage `json:"errors"`
		ErrorMessages []string          `json:"errorMessages"`
	}
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	var parts []string
	add := func(raw json.RawMessage) {
		var s string
		var o struct {
			Message string `json:"message"`
			Detail  string `json:"detail"`
		}
		switch {
		case json.Unmarshal(raw, &s) == nil && s != "":
			parts = append(parts, s)
		case json.Unmarshal(raw, &o) == nil && (o.Message != "" || o.Detail != ""):
			parts = append(parts, strings.TrimSpace(o.Message+" "+o.Detail))
		}
	}
	if v.Message != "" {
		parts = append(parts, v.Message)
	}
	if len(v.Error) > 0 {
		add(v.Error)
	}
	for _, e := range v.Errors {
		add(e)
	}
	parts = append(parts, v.ErrorMessages...)
	if len(parts) == 0 {
		return string(b)
	}
	return strings.Join(parts, "; ")
}

// BadPort says why u's port cannot be dialled, or "" when u names none or
// one from 1 to 65535: url.Parse takes any digits, and a port that cannot
// exist must be bad input, not a connection failure later.
func BadPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("port %s is not between 1 and 65535", port)
	}
	return ""
}

// BaseURL is an API's base URL from a setting: def when empty, no trailing
// slash, and an error naming the API unless it is an http(s) URL.
func BaseURL(api, raw, def string) (string, error) {
	base := strings.TrimRight(strings.TrimSpace(raw), "/")
	if base == "" {
		base = def
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%s API URL %q: want an http(s) URL", api, RedactURL(base))
	}
	if why := BadPort(u); why != "" {
		return "", fmt.Errorf("%s API URL %q: %s", api, RedactURL(base), why)
	}
	return base, nil
}

// ForAPI is the setup every small API client's New shares once its options
// are checked: hc, or a client with the default policy when nil, whose
// redactor now knows secrets; and the page bound, def when maxPages is not
// positive (a negative one must not unbound a listing).
func ForAPI(hc *Client, maxPages, def int, secrets ...string) (*Client, int) {
	if hc == nil {
		hc = New(Options{})
	}
	hc.Redactor().Add(secrets...)
	if maxPages <= 0 {
		maxPages = def
	}
	return hc, maxPages
}

// AuthHint adds hint to err when err is a refused credential (HTTP 401 or
// 403): what the API needs, which its own message seldom says.
func AuthHint(err error, hint string) error {
	var se *StatusError
	if errors.As(err, &se) && (se.Status == http.StatusUnauthorized || se.Status == http.StatusForbidden) {
		return fmt.Errorf("%w (%s)", err, hint)
	}
	return err
}
