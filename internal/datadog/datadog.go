// Package datadog is a small typed client for Datadog's events API (v2):
// the events of an incident's window, monitor state changes among them
// (alert, warning, recovered), paged by cursor with a bound on the pages.
// Metric queries for canary analysis live in internal/metricsource.
package datadog

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// DefaultMaxPages bounds one listing (100 events a page).
const DefaultMaxPages = 20

// Options configure a Client.
type Options struct {
	// Site is a Datadog site (datadoghq.com when empty, datadoghq.eu ...) or
	// an http(s) URL of an API endpoint.
	Site           string
	APIKey, AppKey string
	// NewHTTP builds the client (verb.Deps.HTTP); the options it gets read
	// Datadog's X-RateLimit-Reset as a 429's wait.
	NewHTTP  func(httpx.Options) *httpx.Client
	MaxPages int
}

// Client reads events.
type Client struct {
	base           string
	apiKey, appKey string
	http           *httpx.Client
	maxPages       int
}

// New checks the options without any network call.
func New(o Options) (*Client, error) {
	if o.NewHTTP == nil {
		o.NewHTTP = httpx.New
	}
	hc := o.NewHTTP(httpx.Options{RetryAfter: metricsource.DatadogRetryAfter})
	base, err := metricsource.DatadogAPIBase(o.Site, hc.Redactor())
	if err != nil {
		return nil, err
	}
	if o.APIKey == "" || o.AppKey == "" {
		return nil, errors.New("datadog: both an API key and an application key are needed")
	}
	hc, pages := httpx.ForAPI(hc, o.MaxPages, DefaultMaxPages, o.APIKey, o.AppKey)
	return &Client{base: base, apiKey: o.APIKey, appKey: o.AppKey, http: hc, maxPages: pages}, nil
}

// Event is a Datadog event as a timeline needs it.
type Event struct {
	ID        string
	Time      time.Time
	Title     string
	Message   string
	Status    string // error, warning, success, info ...
	Source    string // source_type_name
	MonitorID int64
	Monitor   string // the monitor's name
	Tags      []string
}

// Transition is a monitor state change an event reports: "alert",
// "warning", "recovered", or "" for other events.
func (e Event) Transition() string {
	if e.MonitorID == 0 && e.Monitor == "" && !strings.HasPrefix(e.Title, "[") {
		return ""
	}
	t := strings.ToLower(e.Title)
	switch {
	case strings.HasPrefix(t, "[recovered"), e.Status == "success":
		return "recovered"
	case strings.HasPrefix(t, "[warn"), e.Status == "warning":
		return "warning"
	case strings.HasPrefix(t, "[triggered"), strings.HasPrefix(t, "[re-triggered"), e.Status == "error", e.Status == "failure":
		return "alert"
	}
	return ""
}

type listResponse struct {
	Data *[]struct {
		ID         string `json:"id"`
		Attributes struct {
			Message    string    `json:"message"`
			Tags       []string  `json:"tags"`
			Timestamp  time.Time `json:"timestamp"`
			Attributes struct {
				Title     string `json:"title"`
				Status    string `json:"status"`
				Source    string `json:"source_type_name"`
				MonitorID *int64 `json:"monitor_id"`
				Monitor   *struct {
					Name string `json:"name"`
				} `json:"monitor"`
			} `json:"attributes"`
		} `json:"attributes"`
	} `json:"data"`
	Meta struct {
		Page struct {
			After string `json:"after"`
		} `json:"page"`
	} `json:"meta"`
}

// get reads one page; a refused key says which keys and scope are needed.
func (c *Client) get(ctx context.Context, pathQuery string, h http.Header, out any) error {
	_, err := c.http.DoJSON(ctx, "Datadog", http.MethodGet, c.base+pathQuery, h, nil, out)
	return httpx.AuthHint(err, "the API key must be valid for this site and the application key needs events_read")
}

// Events lists the events matching query (Datadog's event search syntax;
// "" matches every event) between from and to, oldest first.
func (c *Client) Events(ctx context.Context, query string, from, to time.Time) ([]Event, error) {
	h := http.Header{}
	h.Set("DD-API-KEY", c.apiKey)
	h.Set("DD-APPLICATION-KEY", c.appKey)
	q := url.Values{
		"filter[from]": {strconv.FormatInt(from.UnixMilli(), 10)},
		"filter[to]":   {strconv.FormatInt(to.UnixMilli(), 10)},
		"sort":         {"timestamp"},
		"page[limit]":  {"100"},
	}
	if strings.TrimSpace(query) != "" {
		q.Set("filter[query]", query)
	}
	var out []Event
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == c.maxPages {
			return out, fmt.Errorf("datadog: events still continue after %d pages (%d events); narrow datadog_query", page, len(out))
		}
		var r listResponse
		if err := c.get(ctx, "/api/v2/events?"+q.Encode(), h, &r); err != nil {
			return out, err
		}
		if r.Data == nil {
			return out, errors.New("datadog GET /api/v2/events: HTTP 200 without data")
		}
		for _, d := range *r.Data {
			if seen[d.ID] {
				continue
			}
			seen[d.ID] = true
			a := d.Attributes.Attributes
			e := Event{ID: d.ID, Time: d.Attributes.Timestamp, Title: a.Title, Message: d.Attributes.Message, Status: a.Status, Source: a.Source, Tags: d.Attributes.Tags}
			if a.MonitorID != nil {
				e.MonitorID = *a.MonitorID
			}
			if a.Monitor != nil {
				e.Monitor = a.Monitor.Name
			}
			out = append(out, e)
		}
		next := r.Meta.Page.After
		if next == "" || len(*r.Data) == 0 {
			break
		}
		if next == q.Get("page[cursor]") {
			return out, errors.New("datadog: the events API returned the same page cursor twice; stopped")
		}
		q.Set("page[cursor]", next)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// EventsV1 lists the events of the v1 events stream between from and to
// (whole seconds) carrying every tag of tags (comma-separated; "" any),
// oldest first: for accounts and sites where the v2 events API is not
// available.
func (c *Client) EventsV1(ctx context.Context, tags string, from, to time.Time) ([]Event, error) {
	h := http.Header{}
	h.Set("DD-API-KEY", c.apiKey)
	h.Set("DD-APPLICATION-KEY", c.appKey)
	q := url.Values{"start": {strconv.FormatInt(from.Unix(), 10)}, "end": {strconv.FormatInt(to.Unix(), 10)}, "unaggregated": {"true"}}
	if strings.TrimSpace(tags) != "" {
		q.Set("tags", strings.TrimSpace(tags))
	}
	var out []Event
	seen := map[string]bool{}
	for page := 0; ; page++ {
		if page == c.maxPages {
			return out, fmt.Errorf("datadog: v1 events still continue after %d pages (%d events); narrow datadog_query", page, len(out))
		}
		q.Set("page", strconv.Itoa(page))
		var r struct {
			Events *[]struct {
				ID        string   `json:"id_str"`
				AlertType string   `json:"alert_type"`
				Date      int64    `json:"date_happened"`
				Source    string   `json:"source_type_name"`
				Tags      []string `json:"tags"`
				Text      string   `json:"text"`
				Title     string   `json:"title"`
			} `json:"events"`
		}
		if err := c.get(ctx, "/api/v1/events?"+q.Encode(), h, &r); err != nil {
			return out, err
		}
		if r.Events == nil {
			return out, errors.New("datadog GET /api/v1/events: HTTP 200 without events")
		}
		fresh := 0
		for _, e := range *r.Events {
			if seen[e.ID] {
				continue
			}
			seen[e.ID], fresh = true, fresh+1
			out = append(out, Event{ID: e.ID, Time: time.Unix(e.Date, 0).UTC(), Title: e.Title, Message: e.Text, Status: e.AlertType, Source: e.Source, Tags: e.Tags})
		}
		// Datadog pages the v1 stream by 1000 events.
		if len(*r.Events) < v1PageSize || fresh == 0 {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// v1PageSize is the v1 events stream's page size.
const v1PageSize = 1000
