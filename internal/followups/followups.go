// Package followups is pmguard followups: it keeps a post-mortem's action
// items where the team tracks work, as GitHub or Jira issues, idempotently
// (each issue carries a key derived from the incident and the action, so a
// rerun finds and updates it instead of opening another), writes the links
// back into the post-mortem, and on a schedule reports overdue items to
// Slack and reminds owners before their deadlines.
package followups

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/postmortem"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verb"
)

// Item is one action item as a ticket shows it.
type Item struct {
	Key      string // the idempotency key
	Action   string
	Priority string
	Owner    string // the handle the team wrote
	Assignee string // the tracker account, from the handle map
	Deadline time.Time
	Status   string
	Incident string // the incident's title
	Link     string // the post-mortem
}

// Done says whether the item needs no more work.
func (it Item) Done() bool { return it.Status == "done" || it.Status == "wont_do" }

// Ticket is an item's issue in the tracker.
type Ticket struct {
	Key  string // the item key it carries
	ID   string // "#12", "OPS-7"
	URL  string
	Open bool
}

// Tracker keeps tickets.
type Tracker interface {
	Name() string
	// Tickets lists the follow-up tickets, with their keys.
	Tickets(ctx context.Context) ([]Ticket, error)
	Create(ctx context.Context, it Item) (Ticket, error)
	// Update brings t in line with it; changed says whether it had to.
	Update(ctx context.Context, t Ticket, it Item) (tk Ticket, changed bool, err error)
}

// Followup is what a run did with one item; followups.json lists them.
type Followup struct {
	Action   string `json:"action"`
	Owner    string `json:"owner,omitempty"`
	Assignee string `json:"assignee,omitempty"`
	Deadline string `json:"deadline,omitempty"`
	Status   string `json:"status"`
	Key      string `json:"key"`
	Ticket   string `json:"ticket"`
	URL      string `json:"url"`
	Open     bool   `json:"open"`
	Outcome  string `json:"outcome"` // created, updated, unchanged, found
	Due      string `json:"due,omitempty"`
}

// create opens it's ticket. A create is not idempotent: it is retried only
// when the tracker cannot have acted on it (a 429, a connection never
// made), and after any other failure (a 5xx, a timeout, which may come
// after the ticket was made) the tickets are listed again, so the one the
// failed attempt made is used rather than a second one opened on a rerun
// or the item reported failed while its ticket exists.
func (o *Options) create(ctx context.Context, it Item) (Ticket, error) {
	t, err := o.Tracker.Create(httpx.OnlyUnservedRetries(ctx), it)
	if err == nil || ctx.Err() != nil {
		return t, err
	}
	tickets, lerr := o.Tracker.Tickets(ctx)
	if lerr != nil {
		return t, err
	}
	for _, t := range tickets {
		if t.Key == it.Key {
			if o.d != nil {
				err = o.d.Redactor.Error(err)
			}
			fmt.Fprintf(o.Stdout, "pmguard followups: creating %s answered %v, but the ticket was made: %s\n", t.ID, err, t.URL)
			return t, nil
		}
	}
	return t, err
}

// Run syncs and/or reports.
func Run(ctx context.Context, o *Options) error {
	ctx, cancel := verb.WithDeadline(ctx, o.Settings.Deadline.Duration)
	defer cancel()
	err := verb.DeadlineReached(ctx, o.Settings.Deadline.Duration, o.run(ctx))
	if o.d != nil {
		return o.d.Redactor.Error(err)
	}
	return err
}

func (o *Options) run(ctx context.Context) error {
	verb.FillClockAndStreams(&o.Now, &o.Stdout, &o.Stderr)
	inc := o.Incident
	if inc == nil {
		var err error
		if inc, err = postmortem.LoadIncident(o.Settings.IncidentFile); err != nil {
			return err
		}
	}
	items := o.items(inc)
	if len(items) == 0 {
		fmt.Fprintf(o.Stdout, "pmguard followups: %s has no action_items\n", o.Settings.IncidentFile)
		return nil
	}
	tickets, err := o.Tracker.Tickets(ctx)
	if err != nil {
		return fmt.Errorf("pmguard followups: reading %s: %w", o.Tracker.Name(), err)
	}
	byKey := map[string]Ticket{}
	for _, t := range tickets {
		if _, dup := byKey[t.Key]; !dup {
			byKey[t.Key] = t
		}
	}
	var out []Followup
	var errs []error
	for _, it := range items {
		f := Followup{Action: it.Action, Owner: it.Owner, Assignee: it.Assignee, Status: it.Status, Key: it.Key}
		if !it.Deadline.IsZero() {
			f.Deadline = it.Deadline.Format(time.DateOnly)
		}
		t, found := byKey[it.Key]
		var err error
		switch {
		case !o.Sync && found:
			f.Outcome = "found"
		case !o.Sync:
			f.Outcome = "not created"
		case found:
			var changed bool
			if t, changed, err = o.Tracker.Update(ctx, t, it); err == nil {
				f.Outcome = map[bool]string{true: "updated", false: "unchanged"}[changed]
			}
		default:
			if t, err = o.create(ctx, it); err == nil {
				f.Outcome = "created"
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%q: %w", it.Action, err))
			f.Outcome = "failed"
		}
		f.Ticket, f.URL, f.Open = t.ID, t.URL, t.Open || t.ID == "" && !it.Done()
		out = append(out, f)
		fmt.Fprintf(o.Stdout, "  %-10s %-8s %s %s\n", f.Outcome, f.Ticket, human.Clip(it.Action, 60), f.URL)
	}
	fig := events.Followups{Tracker: o.Tracker.Name(), Items: len(out)}
	for _, f := range out {
		switch f.Outcome {
		case "created":
			fig.Created++
		case "updated":
			fig.Updated++
		case "unchanged":
			fig.Unchanged++
		case "failed":
			fig.Failed++
		}
	}
	if o.Sync {
		if err := o.writeBack(out); err != nil {
			errs = append(errs, err)
		}
		o.event(ctx, events.FollowupsSynced, fig, fmt.Sprintf("%d created, %d updated, %d unchanged", fig.Created, fig.Updated, fig.Unchanged))
	}
	if o.Report {
		var err error
		if fig.Overdue, fig.DueSoon, err = o.report(ctx, inc, items, out); err != nil {
			errs = append(errs, err)
		}
		o.event(ctx, events.FollowupsReported, fig, fmt.Sprintf("%d overdue, %d due soon", fig.Overdue, fig.DueSoon))
	}
	if len(errs) > 0 {
		return fmt.Errorf("pmguard followups: %w", errors.Join(errs...))
	}
	return nil
}

func (o *Options) event(ctx context.Context, name string, f events.Followups, msg string) {
	if o.Log == nil {
		return
	}
	e := events.Event{Verb: "followups", Event: name, Target: f.Tracker, Message: msg}
	e.SetFigures(f)
	o.Log.Append(ctx, e) //nolint:errcheck // the tickets are kept; a lost event is not worth failing for
}

// items are the incident's action items with their keys and assignees.
func (o *Options) items(inc *postmortem.Incident) []Item {
	incKey := strings.TrimSpace(o.Settings.IncidentKey)
	if incKey == "" {
		incKey = strings.TrimSpace(inc.Title) + "\x00" + strings.TrimSpace(inc.Date)
	}
	var out []Item
	for _, a := range inc.ActionItems {
		action := strings.Join(strings.Fields(a.Action), " ")
		if action == "" {
			continue
		}
		sum := sha256.Sum256([]byte(incKey + "\x00" + postmortem.ActionKey(a.Action)))
		it := Item{Key: hex.EncodeToString(sum[:6]), Action: action, Priority: string(a.Priority), Owner: strings.TrimSpace(a.Owner),
			Deadline: a.Deadline.Time, Status: string(a.Status), Incident: strings.TrimSpace(inc.Title), Link: o.Link}
		if it.Status == "" {
			it.Status = "open"
		}
		it.Assignee = o.Owners[it.Owner]
		out = append(out, it)
	}
	return out
}

// writeBack records the links: followups.json, a section of postmortem.md
// between markers (rewritten on each run), and each action item's ticket in
// postmortem.json when the draft has one.
func (o *Options) writeBack(fs []Followup) error {
	dir := o.Settings.PostmortemDir
	if dir == "" {
		return nil
	}
	if err := report.WriteJSON(filepath.Join(dir, "followups.json"), map[string]any{"tracker": o.Tracker.Name(), "followups": fs}); err != nil {
		return err
	}
	md := filepath.Join(dir, "postmortem.md")
	old, mdErr := os.ReadFile(md)
	if mdErr == nil {
		if err := report.WriteFile(md, []byte(withSection(string(old), markdownSection(o.Tracker.Name(), fs)))); err != nil {
			return err
		}
	}
	pj := filepath.Join(dir, "postmortem.json")
	old, pjErr := os.ReadFile(pj)
	if mdErr != nil && pjErr != nil {
		// Most often the workspace attached elsewhere: the draft would
		// lack its links without a word.
		fmt.Fprintf(o.Stderr, "pmguard followups: warning: no post-mortem draft in %s (postmortem.md: %v): the links are only in followups.json; set postmortem_dir (--postmortem-dir, PMGUARD_FOLLOWUPS_POSTMORTEM_DIR) to the draft's directory, such as /tmp/workspace/postmortem\n",
			dir, config.PathCause(mdErr))
	}
	if pjErr == nil {
		if nb, ok := withTickets(old, fs); ok {
			if err := report.WriteFile(pj, nb); err != nil {
				return err
			}
		}
	}
	return nil
}

const (
	sectionStart = "<!-- pmguard:followups -->"
	sectionEnd   = "<!-- /pmguard:followups -->"
)

func markdownSection(tracker string, fs []Followup) string {
	var b strings.Builder
	b.WriteString(sectionStart + "\n## Follow-up tickets\n\n")
	fmt.Fprintf(&b, "Kept in %s by `pmguard followups`.\n\n| Action | Owner | Deadline | Ticket |\n|---|---|---|---|\n", tracker)
	for _, f := range fs {
		t := f.Ticket
		if f.URL != "" {
			t = "[" + f.Ticket + "](" + f.URL + ")"
		}
		if !f.Open && f.Ticket != "" {
			t += " (closed)"
		}
		// Escaped as the draft is: no raw HTML (a quoted section marker
		// would cut the section on the next run), no table break.
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", postmortem.MarkdownCell(f.Action), postmortem.MarkdownCell(f.Owner), f.Deadline, t)
	}
	b.WriteString(sectionEnd + "\n")
	return b.String()
}

// withSection replaces the section between the markers, or appends it.
func withSection(doc, section string) string {
	if i := strings.Index(doc, sectionStart); i >= 0 {
		if j := strings.Index(doc[i:], sectionEnd); j >= 0 {
			rest := strings.TrimPrefix(doc[i+j+len(sectionEnd):], "\n")
			return doc[:i] + section + rest
		}
	}
	return strings.TrimRight(doc, "\n") + "\n\n" + section
}

// withTickets sets "ticket" on each action item of postmortem.json whose
// action matches a follow-up.
func withTickets(doc []byte, fs []Followup) ([]byte, bool) {
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil {
		return nil, false
	}
	items, _ := m["action_items"].([]any)
	byAction := map[string]Followup{}
	for _, f := range fs {
		byAction[strings.ToLower(f.Action)] = f
	}
	for _, x := range items {
		ai, _ := x.(map[string]any)
		a, _ := ai["action"].(string)
		if a == "" {
			a, _ = ai["Action"].(string)
		}
		if f, ok := byAction[strings.ToLower(strings.Join(strings.Fields(a), " "))]; ok && f.URL != "" {
			ai["ticket"] = f.URL
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if enc.Encode(m) != nil {
		return nil, false
	}
	return b.Bytes(), true
}

// report lists overdue items and those due within remind_before, and posts
// them to Slack when a channel is set.
func (o *Options) report(ctx context.Context, inc *postmortem.Incident, items []Item, fs []Followup) (int, int, error) {
	today := o.Now().UTC().Truncate(24 * time.Hour)
	remind := o.Settings.RemindBefore.Duration
	var overdue, soon []string
	for i, it := range items {
		f := fs[i]
		if it.Done() || !f.Open || it.Deadline.IsZero() {
			continue
		}
		line := fmt.Sprintf("%s — %s, due %s", it.Action, firstNonEmpty(it.Owner, "no owner"), it.Deadline.Format(time.DateOnly))
		if f.URL != "" {
			line += " (" + f.Ticket + " " + f.URL + ")"
		}
		switch days := int(it.Deadline.Sub(today).Hours() / 24); {
		case it.Deadline.Before(today):
			overdue = append(overdue, fmt.Sprintf("%s: %s overdue", line, fmtDays(time.Duration(-days)*24*time.Hour)))
		case it.Deadline.Sub(today) <= remind:
			soon = append(soon, fmt.Sprintf("%s: due in %s", line, fmtDays(time.Duration(days)*24*time.Hour)))
		}
	}
	sort.Strings(overdue)
	sort.Strings(soon)
	title := firstNonEmpty(strings.TrimSpace(inc.Title), "the incident")
	var b strings.Builder
	fmt.Fprintf(&b, "Post-mortem follow-ups of %s: %d overdue, %d due within %s.\n", title, len(overdue), len(soon), fmtDays(remind))
	for _, l := range overdue {
		b.WriteString("• Overdue: " + l + "\n")
	}
	for _, l := range soon {
		b.WriteString("• Reminder: " + l + "\n")
	}
	text := strings.TrimRight(b.String(), "\n")
	fmt.Fprintln(o.Stdout, "\n"+text)
	if o.Post == nil || len(overdue)+len(soon) == 0 {
		return len(overdue), len(soon), nil
	}
	return len(overdue), len(soon), o.Post(ctx, text)
}

func fmtDays(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
