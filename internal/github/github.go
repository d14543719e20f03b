// Package github is a small typed client for GitHub's REST API issues: list
// a repository's issues (every page of the Link header, bounded), create
// and update one. Follow-ups use it to keep a post-mortem's action items
// as issues.
package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// DefaultURL is GitHub's API; GitHub Enterprise Server is https://HOST/api/v3.
const DefaultURL = "https://api.github.com"

// DefaultMaxPages bounds a listing (100 issues a page).
const DefaultMaxPages = 30

// Options configure a Client.
type Options struct {
	BaseURL  string
	Token    string
	Repo     string // owner/name
	HTTP     *httpx.Client
	MaxPages int
}

// Client works on one repository's issues.
type Client struct {
	base, token, repo string
	http              *httpx.Client
	maxPages          int
}

var repoRe = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)

// New checks the options without any network call.
func New(o Options) (*Client, error) {
	base, err := httpx.BaseURL("GitHub", o.BaseURL, DefaultURL)
	if err != nil {
		return nil, err
	}
	if !repoRe.MatchString(o.Repo) {
		return nil, fmt.Errorf("GitHub repository %q: want owner/name", o.Repo)
	}
	if o.Token == "" {
		return nil, errors.New("no GitHub token")
	}
	hc, pages := httpx.ForAPI(o.HTTP, o.MaxPages, DefaultMaxPages, o.Token)
	return &Client{base: base, token: o.Token, repo: o.Repo, http: hc, maxPages: pages}, nil
}

// Repo is the repository, owner/name.
func (c *Client) Repo() string { return c.repo }

// Issue is the part of an issue follow-ups use.
type Issue struct {
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	State     string    `json:"state"` // open, closed
	HTMLURL   string    `json:"html_url"`
	UpdatedAt time.Time `json:"updated_at"`
	Labels    []struct {
		Name string `json:"name"`
	} `json:"labels"`
	Assignees []struct {
		Login string `json:"login"`
	} `json:"assignees"`
	PullRequest *struct{} `json:"pull_request"`
}

// IssueRequest is what an issue is created or updated with. Nil Labels or
// Assignees are left as they are; an empty one clears them.
type IssueRequest struct {
	Title     string
	Body      string
	Labels    []string
	Assignees []string
	State     string
}

// MarshalJSON leaves out what is not set: GitHub rejects null lists.
func (r IssueRequest) MarshalJSON() ([]byte, error) {
	m := map[string]any{"body": r.Body}
	if r.Title != "" {
		m["title"] = r.Title
	}
	if r.State != "" {
		m["state"] = r.State
	}
	if r.Labels != nil {
		m["labels"] = r.Labels
	}
	if r.Assignees != nil {
		m["assignees"] = r.Assignees
	}
	return json.Marshal(m)
}

func (c *Client) header() http.Header {
	h := http.Header{}
	h.Set("Accept", "application/vnd.github+json")
	h.Set("Authorization", "Bearer "+c.token)
	h.Set("X-GitHub-Api-Version", "2022-11-28")
	return h
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) (http.Header, error) {
	return c.doURL(ctx, method, c.base+path, in, out)
}

func (c *Client) doURL(ctx context.Context, method, u string, in, out any) (http.Header, error) {
	h, err := c.http.DoJSON(ctx, "GitHub", method, u, c.header(), in, out)
	var se *httpx.StatusError
	if errors.As(err, &se) {
		switch se.Status {
		case http.StatusUnauthorized:
			return h, fmt.Errorf("%w (the token is not valid)", err)
		case http.StatusForbidden, http.StatusNotFound:
			return h, fmt.Errorf("%w (the token needs issues: read and write on %s)", err, c.repo)
		}
	}
	return h, err
}

var nextLinkRe = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// Issues lists the repository's issues (open and closed, pull requests
// left out) that carry label.
func (c *Client) Issues(ctx context.Context, label string) ([]Issue, error) {
	q := url.Values{"state": {"all"}, "per_page": {"100"}, "labels": {label}}
	u := c.base + "/repos/" + c.repo + "/issues?" + q.Encode()
	var out []Issue
	for page := 0; ; page++ {
		if page == c.maxPages {
			return out, fmt.Errorf("GitHub: %s still lists more issues labelled %s after %d pages; stopped", c.repo, label, page)
		}
		var is *[]Issue
		h, err := c.doURL(ctx, http.MethodGet, u, nil, &is)
		if err != nil {
			return out, err
		}
		if is == nil {
			return out, fmt.Errorf("GitHub GET /repos/%s/issues: HTTP 200 without a list of issues", c.repo)
		}
		for _, i := range *is {
			if i.PullRequest == nil {
				out = append(out, i)
			}
		}
		m := nextLinkRe.FindStringSubmatch(h.Get("Link"))
		if m == nil {
			return out, nil
		}
		// Only follow pages of the same API: the token goes with them.
		next, err := url.Parse(m[1])
		base, _ := url.Parse(c.base)
		if err != nil || !httpx.SameOrigin(next, base) {
			return out, fmt.Errorf("GitHub: the next page is on another host (%s); stopped", httpx.RedactURL(m[1]))
		}
		// Followed as given, whatever its path: only its origin matters.
		u = next.String()
	}
}

// Create opens an issue.
func (c *Client) Create(ctx context.Context, r IssueRequest) (Issue, error) {
	var i Issue
	_, err := c.do(ctx, http.MethodPost, "/repos/"+c.repo+"/issues", r, &i)
	if err == nil && i.Number == 0 {
		err = fmt.Errorf("GitHub POST /repos/%s/issues: answered without an issue number", c.repo)
	}
	return i, err
}

// Update changes an issue.
func (c *Client) Update(ctx context.Context, number int, r IssueRequest) (Issue, error) {
	var i Issue
	_, err := c.do(ctx, http.MethodPatch, "/repos/"+c.repo+"/issues/"+strconv.Itoa(number), r, &i)
	if err == nil && i.Number == 0 {
		err = fmt.Errorf("GitHub PATCH /repos/%s/issues/%d: answered without an issue", c.repo, number)
	}
	return i, err
}
