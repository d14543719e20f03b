// Package pagerduty is a small typed client for the PagerDuty REST API v2:
// an incident, its log entries (triggered, acknowledged, escalated,
// resolved, annotated ...) and its notes, with offset pagination bounded so
// an API that always says "more" cannot keep a run going.
package pagerduty

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// DefaultURL is PagerDuty's API (api.eu.pagerduty.com for the EU service region).
const DefaultURL = "https://api.pagerduty.com"

// PageLimit is the page size asked for (PagerDuty's maximum is 100).
const PageLimit = 100

// DefaultMaxPages bounds a paginated listing.
const DefaultMaxPages = 50

// Options configure a Client.
type Options struct {
	BaseURL  string // default DefaultURL
	Token    string // a REST API key
	HTTP     *httpx.Client
	MaxPages int // default DefaultMaxPages
}

// Client reads incidents.
type Client struct {
	base     string
	token    string
	http     *httpx.Client
	maxPages int
}

// New checks the options without any network call.
func New(o Options) (*Client, error) {
	base, err := httpx.BaseURL("PagerDuty", o.BaseURL, DefaultURL)
	if err != nil {
		return nil, err
	}
	if o.Token == "" {
		return nil, errors.New("no PagerDuty API token")
	}
	hc, pages := httpx.ForAPI(o.HTTP, o.MaxPages, DefaultMaxPages, o.Token)
	return &Client{base: base, token: o.Token, http: hc, maxPages: pages}, nil
}

// Reference is PagerDuty's reference object (agent, channel, service ...).
type Reference struct {
	ID      string `json:"id,omitempty"`
	Type    string `json:"type,omitempty"`
	Summary string `json:"summary,omitempty"`
	HTMLURL string `json:"html_url,omitempty"`
}

// Incident is the part of an incident a post-mortem uses.
type Incident struct {
	ID        string     `json:"id"`
	Number    int        `json:"incident_number"`
	Title     string     `json:"title"`
	Status    string     `json:"status"`
	Urgency   string     `json:"urgency"`
	HTMLURL   string     `json:"html_url"`
	CreatedAt time.Time  `json:"created_at"`
	Priority  *Reference `json:"priority"`
	Service   *Reference `json:"service"`
}

// LogEntry is one entry of an incident's log.
type LogEntry struct {
	ID        string     `json:"id"`
	Type      string     `json:"type"` // trigger_log_entry, acknowledge_log_entry, ...
	Summary   string     `json:"summary"`
	CreatedAt time.Time  `json:"created_at"`
	Note      string     `json:"note"`
	Channel   *Reference `json:"channel"`
	Agent     *Reference `json:"agent"`
	HTMLURL   string     `json:"html_url"`
	// EventDetails.Description is the triggering event's text.
	EventDetails *struct {
		Description string `json:"description"`
	} `json:"event_details"`
}

// Note is a note on an incident.
type Note struct {
	ID        string    `json:"id"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

func (c *Client) get(ctx context.Context, path string, q url.Values, out any) error {
	h := http.Header{}
	h.Set("Accept", "application/vnd.pagerduty+json;version=2")
	h.Set("Authorization", "Token token="+c.token)
	// The API description requires it on every request, GETs included.
	h.Set("Content-Type", "application/json")
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	_, err := c.http.DoJSON(ctx, "PagerDuty", http.MethodGet, u, h, nil, out)
	return httpx.AuthHint(err, "check the API token and its access to the incident")
}

// Incident reads one incident by id.
func (c *Client) Incident(ctx context.Context, id string) (Incident, error) {
	var r struct {
		Incident *Incident `json:"incident"`
	}
	if err := c.get(ctx, "/incidents/"+url.PathEscape(id), nil, &r); err != nil {
		return Incident{}, err
	}
	if r.Incident == nil || r.Incident.ID == "" {
		return Incident{}, fmt.Errorf("PagerDuty GET /incidents/%s: HTTP 200 without an incident", id)
	}
	return *r.Incident, nil
}

// LogEntries reads every log entry of an incident, oldest first; after an
// error, those read so far, oldest first too.
func (c *Client) LogEntries(ctx context.Context, id string) ([]LogEntry, error) {
	all, err := c.logEntries(ctx, id)
	// PagerDuty lists newest first; the timeline wants time order.
	sort.SliceStable(all, func(i, j int) bool { return all[i].CreatedAt.Before(all[j].CreatedAt) })
	return all, err
}

func (c *Client) logEntries(ctx context.Context, id string) ([]LogEntry, error) {
	var all []LogEntry
	for page, offset := 0, 0; ; page++ {
		if page == c.maxPages {
			return all, fmt.Errorf("PagerDuty: incident %s still has more log entries after %d pages (%d entries); stopped", id, page, len(all))
		}
		var r struct {
			LogEntries *[]LogEntry `json:"log_entries"`
			More       bool        `json:"more"`
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(PageLimit)}, "time_zone": {"UTC"}}
		if err := c.get(ctx, "/incidents/"+url.PathEscape(id)+"/log_entries", q, &r); err != nil {
			return all, err
		}
		if r.LogEntries == nil {
			return all, fmt.Errorf("PagerDuty GET /incidents/%s/log_entries: HTTP 200 without log_entries", id)
		}
		all = append(all, *r.LogEntries...)
		if !r.More {
			break
		}
		if len(*r.LogEntries) == 0 {
			return all, fmt.Errorf("PagerDuty: incident %s log entries: an empty page that says more follow; stopped", id)
		}
		offset += len(*r.LogEntries)
	}
	return all, nil
}

// Notes reads an incident's notes.
func (c *Client) Notes(ctx context.Context, id string) ([]Note, error) {
	var r struct {
		Notes *[]Note `json:"notes"`
	}
	if err := c.get(ctx, "/incidents/"+url.PathEscape(id)+"/notes", nil, &r); err != nil {
		return nil, err
	}
	if r.Notes == nil {
		return nil, fmt.Errorf("PagerDuty GET /incidents/%s/notes: HTTP 200 without notes", id)
	}
	return *r.Notes, nil
}
