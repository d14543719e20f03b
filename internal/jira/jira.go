// Package jira is a small typed client for Jira Cloud's REST API v3:
// search issues by JQL (token pages, bounded), create and edit one.
// Follow-ups use it to keep a post-mortem's action items as Jira issues.
package jira

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/pmguard/pmguard/internal/httpx"
)

// DefaultMaxPages bounds a search (100 issues a page).
const DefaultMaxPages = 30

// Options configure a Client.
type Options struct {
	BaseURL  string // https://acme.atlassian.net
	Email    string
	Token    string
	HTTP     *httpx.Client
	MaxPages int
}

// Client talks to one Jira site.
type Client struct {
	base, auth string
	http       *httpx.Client
	maxPages   int
}

// New checks the options without any network call.
func New(o Options) (*Client, error) {
	base, err := httpx.BaseURL("Jira", o.BaseURL, "")
	if err != nil {
		return nil, err
	}
	if o.Email == "" || o.Token == "" {
		return nil, errors.New("no Jira account email or API token (both are needed)")
	}
	auth := base64.StdEncoding.EncodeToString([]byte(o.Email + ":" + o.Token))
	hc, pages := httpx.ForAPI(o.HTTP, o.MaxPages, DefaultMaxPages, o.Token, auth)
	return &Client{base: base, auth: "Basic " + auth, http: hc, maxPages: pages}, nil
}

// Base is the site's URL.
func (c *Client) Base() string { return c.base }

// Issue is the part of an issue follow-ups use.
type Issue struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Summary  string   `json:"summary"`
		Labels   []string `json:"labels"`
		DueDate  string   `json:"duedate"`
		Assignee *struct {
			AccountID string `json:"accountId"`
		} `json:"assignee"`
		Status *struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"` // new, indeterminate, done
			} `json:"statusCategory"`
		} `json:"status"`
	} `json:"fields"`
}

// Done says whether the issue's status is in the done category.
func (i Issue) Done() bool {
	return i.Fields.Status != nil && i.Fields.Status.StatusCategory.Key == "done"
}

// URL is the issue's page.
func (c *Client) URL(key string) string { return c.base + "/browse/" + key }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	h := http.Header{}
	h.Set("Authorization", c.auth)
	_, err := c.http.DoJSON(ctx, "Jira", method, c.base+path, h, in, out)
	return httpx.AuthHint(err, "check the email and API token, and the account's permission to create issues in the project")
}

// Search lists the issues jql matches.
func (c *Client) Search(ctx context.Context, jql string) ([]Issue, error) {
	q := url.Values{"jql": {jql}, "maxResults": {"100"}, "fields": {"summary,labels,duedate,assignee,status"}}
	var out []Issue
	for page := 0; ; page++ {
		if page == c.maxPages {
			return out, fmt.Errorf("the Jira search still has more issues after %d pages; stopped", page)
		}
		var r struct {
			Issues        *[]Issue `json:"issues"`
			NextPageToken string   `json:"nextPageToken"`
			IsLast        *bool    `json:"isLast"`
		}
		if err := c.do(ctx, http.MethodGet, "/rest/api/3/search/jql?"+q.Encode(), nil, &r); err != nil {
			return out, err
		}
		if r.Issues == nil {
			return out, errors.New("GET /rest/api/3/search/jql: Jira answered HTTP 200 without issues")
		}
		out = append(out, *r.Issues...)
		if r.NextPageToken == "" || r.IsLast != nil && *r.IsLast {
			return out, nil
		}
		if r.NextPageToken == q.Get("nextPageToken") {
			return out, errors.New("the Jira search returned the same page token twice; stopped")
		}
		q.Set("nextPageToken", r.NextPageToken)
	}
}

// Fields are an issue's fields to set.
type Fields map[string]any

// Create creates an issue and returns its key.
func (c *Client) Create(ctx context.Context, f Fields) (string, error) {
	var r struct {
		Key string `json:"key"`
	}
	if err := c.do(ctx, http.MethodPost, "/rest/api/3/issue", map[string]any{"fields": f}, &r); err != nil {
		return "", err
	}
	if r.Key == "" {
		return "", errors.New("POST /rest/api/3/issue: Jira answered without an issue key")
	}
	return r.Key, nil
}

// Edit sets fields of an issue.
func (c *Client) Edit(ctx context.Context, key string, f Fields) error {
	return c.do(ctx, http.MethodPut, "/rest/api/3/issue/"+url.PathEscape(key), map[string]any{"fields": f}, nil)
}

// Doc is a paragraph-per-line Atlassian document, the form v3 descriptions take.
func Doc(lines ...string) map[string]any {
	var content []any
	for _, l := range lines {
		content = append(content, map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": l}}})
	}
	return map[string]any{"type": "doc", "version": 1, "content": content}
}
