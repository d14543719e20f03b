package followups

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jira"
)

// jiraTracker keeps follow-ups as Jira issues. Jira descriptions hold no
// hidden text, so each issue carries its item's key as a label
// (pmguard-followup-<key>) beside the follow-up label; reruns search by the
// follow-up label and read the key back.
type jiraTracker struct {
	c                  *jira.Client
	project, issueType string
	label              string
	labels             []string
	seen               map[string]jira.Issue
}

var jiraProjectRe = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,9}$`)

func (o *Options) jira(set *config.Set, hc *httpx.Client) (Tracker, error) {
	s, d := &o.Settings, o.d
	if s.JiraURL.URL == nil {
		return nil, set.Invalid(&s.JiraURL, "", "the Jira site is needed with tracker jira", "")
	}
	if !jiraProjectRe.MatchString(s.JiraProject) {
		return nil, set.Invalid(&s.JiraProject, s.JiraProject, "not a project key", "")
	}
	email, token := strings.TrimSpace(d.Getenv(string(s.JiraEmailEnv))), strings.TrimSpace(d.Getenv(string(s.JiraTokenEnv)))
	if email == "" {
		return nil, set.EmptyEnv(&s.JiraEmailEnv, "", "")
	}
	if token == "" {
		return nil, set.EmptyEnv(&s.JiraTokenEnv, "", "")
	}
	c, err := jira.New(jira.Options{BaseURL: s.JiraURL.String(), Email: email, Token: token, HTTP: hc})
	if err != nil {
		return nil, set.Invalid(&s.JiraURL, s.JiraURL.String(), err.Error(), "")
	}
	return &jiraTracker{c: c, project: s.JiraProject, issueType: s.JiraIssueType, label: s.Label, labels: s.Labels}, nil
}

const jiraKeyLabel = "pmguard-followup-"

func (j *jiraTracker) Name() string { return "Jira " + j.project }

func (j *jiraTracker) Tickets(ctx context.Context) ([]Ticket, error) {
	is, err := j.c.Search(ctx, fmt.Sprintf(`project = %q AND labels = %q ORDER BY created ASC`, j.project, j.label))
	j.seen = map[string]jira.Issue{}
	var out []Ticket
	for _, i := range is {
		for _, l := range i.Fields.Labels {
			if k, ok := strings.CutPrefix(l, jiraKeyLabel); ok {
				j.seen[i.Key] = i
				out = append(out, Ticket{Key: k, ID: i.Key, URL: j.c.URL(i.Key), Open: !i.Done()})
			}
		}
	}
	return out, err
}

func (j *jiraTracker) fields(it Item) jira.Fields {
	summary := it.Action
	if it.Priority != "" {
		summary = "[" + it.Priority + "] " + summary
	}
	labels := append([]string{j.label, jiraKeyLabel + it.Key}, j.labels...)
	if it.Priority != "" {
		labels = append(labels, it.Priority)
	}
	lines := []string{"Follow-up of the post-mortem of " + firstNonEmpty(it.Incident, "the incident") + ".", "Action: " + it.Action}
	if it.Owner != "" {
		lines = append(lines, "Owner: "+it.Owner)
	}
	if it.Link != "" {
		lines = append(lines, "Post-mortem: "+it.Link)
	}
	lines = append(lines, "Kept by pmguard followups: edit the action item in incident.yml, not this text.")
	f := jira.Fields{"summary": summary, "labels": labels, "description": jira.Doc(lines...)}
	if !it.Deadline.IsZero() {
		f["duedate"] = it.Deadline.Format(time.DateOnly)
	}
	if it.Assignee != "" {
		f["assignee"] = map[string]any{"accountId": it.Assignee}
	}
	return f
}

func (j *jiraTracker) Create(ctx context.Context, it Item) (Ticket, error) {
	f := j.fields(it)
	f["project"] = map[string]any{"key": j.project}
	f["issuetype"] = map[string]any{"name": j.issueType}
	key, err := j.c.Create(ctx, f)
	if err != nil {
		return Ticket{}, err
	}
	return Ticket{Key: it.Key, ID: key, URL: j.c.URL(key), Open: true}, nil
}

// Update edits the issue when the summary, labels, due date or assignee
// drifted from the item (an unassigned issue gets the owner's account). Jira's workflow owns the status: a done item is
// not transitioned.
func (j *jiraTracker) Update(ctx context.Context, t Ticket, it Item) (Ticket, bool, error) {
	i, ok := j.seen[t.ID]
	if !ok {
		return t, false, fmt.Errorf("issue %s was not listed", t.ID)
	}
	f := j.fields(it)
	assignee := ""
	if i.Fields.Assignee != nil {
		assignee = i.Fields.Assignee.AccountID
	}
	due, _ := f["duedate"].(string)
	// What the team did in Jira stays: its labels (an edit replaces the
	// whole list; only a priority label the item no longer has goes) and
	// the person the issue is assigned to.
	want := f["labels"].([]string)
	var labels []string
	for _, l := range i.Fields.Labels {
		if !priorityLabelRe.MatchString(l) || slices.Contains(want, l) {
			labels = append(labels, l)
		}
	}
	f["labels"] = union(labels, want)
	wantAssignee := it.Assignee
	if assignee != "" || it.Assignee == "" {
		delete(f, "assignee")
		wantAssignee = assignee
	}
	if i.Fields.Summary == f["summary"] && sameSet(i.Fields.Labels, f["labels"].([]string)) && i.Fields.DueDate == due && assignee == wantAssignee {
		return t, false, nil
	}
	if err := j.c.Edit(ctx, t.ID, f); err != nil {
		return t, false, err
	}
	return t, true, nil
}
