// Package datadogtest is a Datadog events API (v2) stand-in for tests: it
// keeps events, filters them by window and a tag or source query, pages by
// cursor as Datadog does, and validates every request and answer against
// Datadog's published OpenAPI file (testdata/specs).
package datadogtest

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/datadog"
)

// The keys the stand-in accepts.
const (
	APIKey = "dd-api-key-0123456789abcdef"
	AppKey = "dd-app-key-fedcba9876543210"
)

// Server is the stand-in.
type Server struct {
	*apitest.Server
	mu     sync.Mutex
	events []datadog.Event
	// PageSize overrides the client's page[limit] (to test paging).
	PageSize int
	// Endless makes every page point at another one.
	Endless bool
}

// New starts a stand-in.
func New(tb testing.TB) *Server {
	s := &Server{}
	s.Server = apitest.New(tb, apitest.Options{Spec: "datadog-api-v2.openapi.json", Authenticate: func(scheme string, r *http.Request) error {
		switch scheme {
		case "apiKeyAuth":
			if r.Header.Get("DD-API-KEY") == APIKey {
				return nil
			}
		case "appKeyAuth":
			if r.Header.Get("DD-APPLICATION-KEY") == AppKey {
				return nil
			}
		}
		return errors.New("not authenticated by " + scheme)
	}})
	s.Handle(http.MethodGet, "/api/v2/events", s.list)
	return s
}

// Add seeds an event; an empty ID gets one.
func (s *Server) Add(e datadog.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.ID == "" {
		e.ID = "AAAAAZ" + strconv.Itoa(1000+len(s.events))
	}
	s.events = append(s.events, e)
}

// Monitor seeds a monitor state change as Datadog records it: status
// "error" and "[Triggered] name" for an alert, "success" and "[Recovered]".
func (s *Server) Monitor(id int64, name, transition string, t time.Time, message string) {
	title, status := "[Triggered] "+name, "error"
	if transition == "recovered" {
		title, status = "[Recovered] "+name, "success"
	}
	s.Add(datadog.Event{Time: t, Title: title, Status: status, Source: "Monitor Alert", MonitorID: id, Monitor: name, Message: message, Tags: []string{"monitor", "service:checkout"}})
}

// matches understands the query forms the tests use: "" and space-separated
// tags (service:checkout) that must all be present.
func matches(e datadog.Event, query string) bool {
	for _, term := range strings.Fields(query) {
		found := false
		for _, t := range e.Tags {
			found = found || t == term
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Server) list(r *apitest.Request) (int, any, http.Header) {
	q := r.URL.Query()
	from, _ := strconv.ParseInt(q.Get("filter[from]"), 10, 64)
	to, _ := strconv.ParseInt(q.Get("filter[to]"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("page[limit]"))
	s.mu.Lock()
	if s.PageSize > 0 {
		limit = s.PageSize
	}
	var hits []datadog.Event
	for _, e := range s.events {
		if ms := e.Time.UnixMilli(); ms >= from && ms <= to && matches(e, q.Get("filter[query]")) {
			hits = append(hits, e)
		}
	}
	endless := s.Endless
	s.mu.Unlock()
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].Time.Before(hits[j].Time) })
	start, _ := strconv.Atoi(strings.TrimPrefix(q.Get("page[cursor]"), "cursor-"))
	if limit <= 0 {
		limit = 10
	}
	if endless && len(hits) > 0 && start >= len(hits) {
		// An endless listing keeps answering with its last event.
		start = len(hits) - 1
	}
	data := []any{}
	for i := start; i < len(hits) && i < start+limit; i++ {
		e := hits[i]
		inner := map[string]any{"title": e.Title, "status": e.Status, "source_type_name": e.Source, "timestamp": e.Time.UnixMilli(), "monitor_id": nil, "monitor": nil}
		if e.MonitorID != 0 {
			inner["monitor_id"] = e.MonitorID
			inner["monitor"] = map[string]any{"id": e.MonitorID, "name": e.Monitor, "type": "query alert"}
		}
		data = append(data, map[string]any{"id": e.ID, "type": "event", "attributes": map[string]any{
			"message": e.Message, "tags": e.Tags, "timestamp": e.Time.UTC().Format(time.RFC3339Nano), "attributes": inner}})
	}
	meta := map[string]any{"elapsed": 3, "request_id": "req-" + strconv.Itoa(start), "status": "done"}
	if next := start + limit; next < len(hits) || endless {
		if endless {
			next = len(s.Calls()) + len(hits)
		}
		meta["page"] = map[string]any{"after": "cursor-" + strconv.Itoa(next)}
	}
	return http.StatusOK, map[string]any{"data": data, "meta": meta, "links": map[string]any{}}, nil
}
