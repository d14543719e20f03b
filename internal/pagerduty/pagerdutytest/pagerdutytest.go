// Package pagerdutytest is a PagerDuty REST API v2 stand-in for tests: it
// keeps incidents, their log entries and notes, pages log entries by
// offset as PagerDuty does, and validates every request and answer against
// PagerDuty's published OpenAPI file (testdata/specs).
package pagerdutytest

import (
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/pagerduty"
)

// Token is the API key the stand-in accepts.
const Token = "pd-test-token-0123456789abcdef"

// Server is the stand-in.
type Server struct {
	*apitest.Server
	mu        sync.Mutex
	incidents map[string]*incident
	// AlwaysMore makes every log entry page say more follow (an endless listing).
	AlwaysMore bool
}

type incident struct {
	inc     pagerduty.Incident
	entries []pagerduty.LogEntry
	notes   []pagerduty.Note
}

// New starts a stand-in.
func New(tb testing.TB) *Server {
	s := &Server{incidents: map[string]*incident{}}
	s.Server = apitest.New(tb, apitest.Options{Spec: "pagerduty-rest-api-v2.openapi.json", Prepare: Mend,
		Authenticate: func(_ string, r *http.Request) error {
			if r.Header.Get("Authorization") != "Token token="+Token {
				return errUnauthorized
			}
			return nil
		}})
	s.Handle(http.MethodGet, "/incidents/{id}", s.getIncident)
	s.Handle(http.MethodGet, "/incidents/{id}/log_entries", s.logEntries)
	s.Handle(http.MethodGet, "/incidents/{id}/notes", s.getNotes)
	return s
}

type authError struct{}

func (authError) Error() string { return "no valid Authorization: Token token=... header" }

var errUnauthorized = authError{}

// Mend fixes two mistakes of the published file that would reject every
// real answer:
//   - AcknowledgeLogEntry narrows type to "acknowledgement_log_entry", which
//     its own base (LogEntry) does not allow and the API never sends:
//     acknowledgements are "acknowledge_log_entry";
//   - Channel is a oneOf of variants told apart only in prose (the
//     description of their type), so every channel matches several; it is
//     validated as anyOf.
func Mend(doc *openapi3.T) {
	if ch := doc.Components.Schemas["Channel"]; ch != nil && ch.Value != nil && len(ch.Value.OneOf) > 0 {
		ch.Value.AnyOf, ch.Value.OneOf = ch.Value.OneOf, nil
	}
	ack := doc.Components.Schemas["AcknowledgeLogEntry"]
	if ack == nil || ack.Value == nil {
		return
	}
	for _, part := range ack.Value.AllOf {
		if t := part.Value.Properties["type"]; t != nil && part.Ref == "" {
			t.Value.Enum = []any{"acknowledge_log_entry"}
		}
	}
}

// AddIncident seeds an incident.
func (s *Server) AddIncident(inc pagerduty.Incident) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.incidents[inc.ID] = &incident{inc: inc}
}

// Log appends a log entry of type kind ("trigger", "acknowledge", "escalate",
// "resolve", "annotate", ...) at t; an annotation also becomes a note.
func (s *Server) Log(id, kind string, t time.Time, summary, note string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.incidents[id]
	n := len(in.entries) + 1
	e := pagerduty.LogEntry{ID: "R" + strconv.Itoa(1000+n) + "LOG", Type: kind + "_log_entry", Summary: summary, CreatedAt: t.UTC(), Note: note,
		Channel: &pagerduty.Reference{Type: "web_trigger", Summary: "The PagerDuty website or APIs"},
		Agent:   &pagerduty.Reference{ID: "PUSER01", Type: "user_reference", Summary: "Dana Responder"},
	}
	in.entries = append(in.entries, e)
	if kind == "annotate" {
		in.notes = append(in.notes, pagerduty.Note{ID: "N" + strconv.Itoa(n) + "NOTE", Content: note, CreatedAt: t.UTC()})
	}
}

func ref(kind, id, summary string) map[string]any {
	return map[string]any{"id": id, "type": kind, "summary": summary, "self": "https://api.pagerduty.com/x/" + id, "html_url": "https://acme.pagerduty.com/x/" + id}
}

func (s *Server) lookup(r *apitest.Request) (*incident, int, any) {
	s.mu.Lock()
	in := s.incidents[r.Params["id"]]
	s.mu.Unlock()
	if in == nil {
		return nil, http.StatusNotFound, map[string]any{"error": map[string]any{"code": 2100, "message": "Not Found"}}
	}
	return in, 0, nil
}

func (s *Server) getIncident(r *apitest.Request) (int, any, http.Header) {
	in, st, e := s.lookup(r)
	if in == nil {
		return st, e, nil
	}
	i := in.inc
	return http.StatusOK, map[string]any{"incident": map[string]any{
		"id": i.ID, "type": "incident", "summary": "[#" + strconv.Itoa(i.Number) + "] " + i.Title, "self": "https://api.pagerduty.com/incidents/" + i.ID,
		"html_url": "https://acme.pagerduty.com/incidents/" + i.ID, "incident_number": i.Number, "title": i.Title,
		"created_at": i.CreatedAt.UTC().Format(time.RFC3339), "status": i.Status, "urgency": "high",
		"service":     ref("service_reference", "PSVC01", "checkout"),
		"assignments": []any{}, "acknowledgements": []any{}, "incident_key": "pmguard-" + i.ID,
	}}, nil
}

func (s *Server) logEntries(r *apitest.Request) (int, any, http.Header) {
	in, st, e := s.lookup(r)
	if in == nil {
		return st, e, nil
	}
	q := r.URL.Query()
	offset, _ := strconv.Atoi(q.Get("offset"))
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 25
	}
	s.mu.Lock()
	entries := append([]pagerduty.LogEntry(nil), in.entries...)
	always := s.AlwaysMore
	s.mu.Unlock()
	// Newest first, as PagerDuty lists them.
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].CreatedAt.After(entries[j].CreatedAt) })
	var page []any
	for i := offset; i < len(entries) && i < offset+limit; i++ {
		x := entries[i]
		m := map[string]any{"id": x.ID, "type": x.Type, "summary": x.Summary, "self": "https://api.pagerduty.com/log_entries/" + x.ID,
			"html_url": "https://acme.pagerduty.com/incidents/" + in.inc.ID + "/log_entries/" + x.ID, "created_at": x.CreatedAt.Format(time.RFC3339),
			"channel": map[string]any{"type": x.Channel.Type, "summary": x.Channel.Summary},
			"agent":   ref(x.Agent.Type, x.Agent.ID, x.Agent.Summary), "service": ref("service_reference", "PSVC01", "checkout"),
			"incident": ref("incident_reference", in.inc.ID, in.inc.Title), "teams": []any{}, "contexts": []any{}}
		if x.Note != "" {
			m["note"] = x.Note
		}
		page = append(page, m)
	}
	if page == nil {
		page = []any{}
	}
	more := always || offset+limit < len(entries)
	if always && len(page) == 0 {
		// An endless listing keeps answering with the last entry.
		page = append(page, map[string]any{"id": "RLOOP", "type": "notify_log_entry", "summary": "Notified", "created_at": in.inc.CreatedAt.UTC().Format(time.RFC3339)})
	}
	return http.StatusOK, map[string]any{"log_entries": page, "offset": offset, "limit": limit, "more": more, "total": nil}, nil
}

func (s *Server) getNotes(r *apitest.Request) (int, any, http.Header) {
	in, st, e := s.lookup(r)
	if in == nil {
		return st, e, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	notes := []any{}
	for _, n := range in.notes {
		notes = append(notes, map[string]any{"id": n.ID, "content": n.Content, "created_at": n.CreatedAt.Format(time.RFC3339),
			"user": ref("user_reference", "PUSER01", "Dana Responder"), "channel": map[string]any{"summary": "The PagerDuty website or APIs"}})
	}
	return http.StatusOK, map[string]any{"notes": notes}, nil
}
