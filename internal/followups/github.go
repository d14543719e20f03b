package followups

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/github"
)

// githubTracker keeps follow-ups as GitHub issues. Each issue's body ends
// with a hidden marker holding the item's key; reruns list the issues by
// the follow-up label (a listing, not the search API, whose index lags
// behind a just-created issue) and match the marker.
type githubTracker struct {
	c      *github.Client
	label  string
	labels []string
	seen   map[string]github.Issue // by ticket ID, from Tickets
}

func (g *githubTracker) Name() string { return "GitHub " + g.c.Repo() }

var markerRe = regexp.MustCompile(`<!-- pmguard:followup ([0-9a-f]{12}) -->`)

func marker(key string) string { return "<!-- pmguard:followup " + key + " -->" }

func (g *githubTracker) Tickets(ctx context.Context) ([]Ticket, error) {
	is, err := g.c.Issues(ctx, g.label)
	var out []Ticket
	// Oldest first, so a duplicate made by hand never replaces the original.
	slices.SortStableFunc(is, func(a, b github.Issue) int { return a.Number - b.Number })
	g.seen = map[string]github.Issue{}
	for _, i := range is {
		// pmguard writes the marker last: one quoted in the text above it
		// is not this issue's.
		if ms := markerRe.FindAllStringSubmatch(i.Body, -1); ms != nil {
			t := ticket(ms[len(ms)-1][1], i)
			g.seen[t.ID] = i
			out = append(out, t)
		}
	}
	return out, err
}

func ticket(key string, i github.Issue) Ticket {
	return Ticket{Key: key, ID: fmt.Sprintf("#%d", i.Number), URL: i.HTMLURL, Open: i.State == "open"}
}

func (g *githubTracker) request(it Item) github.IssueRequest {
	title := it.Action
	if it.Priority != "" {
		title = "[" + it.Priority + "] " + title
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Follow-up of the post-mortem of **%s**.\n\n", firstNonEmpty(it.Incident, "the incident"))
	fmt.Fprintf(&b, "- Action: %s\n", it.Action)
	if it.Priority != "" {
		fmt.Fprintf(&b, "- Priority: %s\n", it.Priority)
	}
	if it.Owner != "" {
		fmt.Fprintf(&b, "- Owner: %s\n", it.Owner)
	}
	if !it.Deadline.IsZero() {
		fmt.Fprintf(&b, "- Due: %s\n", it.Deadline.Format(time.DateOnly))
	}
	fmt.Fprintf(&b, "- Status in the post-mortem: %s\n", strings.ReplaceAll(it.Status, "_", " "))
	if it.Link != "" {
		fmt.Fprintf(&b, "- Post-mortem: %s\n", it.Link)
	}
	b.WriteString("\nKept by `pmguard followups`: edit the action item in incident.yml, not this text.\n\n" + marker(it.Key) + "\n")
	labels := append([]string{g.label}, g.labels...)
	if it.Priority != "" {
		labels = append(labels, it.Priority)
	}
	r := github.IssueRequest{Title: title, Body: b.String(), Labels: labels, Assignees: []string{}, State: "open"}
	if it.Assignee != "" {
		r.Assignees = []string{strings.TrimPrefix(it.Assignee, "@")}
	}
	if it.Done() {
		r.State = "closed"
	}
	return r
}

func (g *githubTracker) Create(ctx context.Context, it Item) (Ticket, error) {
	r := g.request(it)
	state := r.State
	r.State = ""
	i, err := g.c.Create(ctx, r)
	if err != nil {
		return Ticket{}, err
	}
	if state == "closed" {
		// An item done before its issue existed: recorded, and closed.
		if i, err = g.c.Update(ctx, i.Number, github.IssueRequest{Body: i.Body, Labels: r.Labels, Assignees: r.Assignees, State: "closed"}); err != nil {
			return Ticket{}, err
		}
	}
	return ticket(it.Key, i), nil
}

// Update changes the issue only when the item changed; an issue closed in
// GitHub stays closed (the work is done even if incident.yml lags behind),
// and the team's own labels and assignees stay on it.
func (g *githubTracker) Update(ctx context.Context, t Ticket, it Item) (Ticket, bool, error) {
	i, ok := g.seen[t.ID]
	if !ok {
		return t, false, fmt.Errorf("issue %s was not listed", t.ID)
	}
	want := g.request(it)
	if !t.Open {
		want.State = "closed"
	}
	// What the team did in GitHub stays: labels and people added there are
	// kept (GitHub's PATCH replaces both lists), only a priority label the
	// item no longer has goes.
	var labels, assignees []string
	for _, l := range i.Labels {
		if !priorityLabelRe.MatchString(l.Name) || slices.Contains(want.Labels, l.Name) {
			labels = append(labels, l.Name)
		}
	}
	for _, a := range i.Assignees {
		assignees = append(assignees, a.Login)
	}
	want.Labels, want.Assignees = union(labels, want.Labels), union(assignees, want.Assignees)
	if same(i, want) {
		return t, false, nil
	}
	u, err := g.c.Update(ctx, i.Number, want)
	if err != nil {
		return t, false, err
	}
	return ticket(it.Key, u), true, nil
}

// withoutLink drops the post-mortem's address: by default it is the
// running job's page, new on every rerun, and that alone is no change.
func withoutLink(body string) string {
	var keep []string
	for _, l := range strings.Split(body, "\n") {
		if !strings.HasPrefix(l, "- Post-mortem: ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// priorityLabelRe is the priority label pmguard puts on an issue (P0 …).
var priorityLabelRe = regexp.MustCompile(`^P[0-9]$`)

// union is a followed by the names of b it lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func same(i github.Issue, r github.IssueRequest) bool {
	var labels, assignees []string
	for _, l := range i.Labels {
		labels = append(labels, l.Name)
	}
	for _, a := range i.Assignees {
		assignees = append(assignees, a.Login)
	}
	return i.Title == r.Title && withoutLink(i.Body) == withoutLink(r.Body) && i.State == r.State &&
		sameSet(labels, r.Labels) && sameSet(assignees, r.Assignees)
}

// sameSet reports whether a and b hold the same names in any order: a
// tracker lists labels and assignees in its own order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
