package notify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The built-in templates.
const (
	DeployFailed       = "DEPLOY_FAILED"
	HealthCheckFailed  = "HEALTH_CHECK_FAILED"
	CanaryFailed       = "CANARY_FAILED"
	RollbackStarted    = "ROLLBACK_STARTED"
	RollbackSucceeded  = "ROLLBACK_SUCCEEDED"
	RollbackFailed     = "ROLLBACK_FAILED"
	DeploySucceeded    = "DEPLOY_SUCCEEDED"
	PostmortemReminder = "POSTMORTEM_REMINDER"

	// RollbackState is not a template of its own: it picks ROLLBACK_STARTED,
	// ROLLBACK_SUCCEEDED or ROLLBACK_FAILED from the newest rollback event of
	// the incident. A rollback runs in a job that has already failed, so the
	// job's status cannot tell them apart.
	RollbackState = "ROLLBACK"
)

// rollbackTemplate maps the rollback's state in the event log to its
// template, or says why no notice is due.
func rollbackTemplate(r *RollbackFacts) (string, string) {
	if r == nil {
		return "", "no rollback event for this incident in the event log"
	}
	switch r.State {
	case "initiated":
		return RollbackStarted, ""
	case "completed":
		return RollbackSucceeded, ""
	case "failed":
		return RollbackFailed, ""
	}
	return "", fmt.Sprintf("the rollback was %s: %s", r.State, r.Message)
}

type template struct {
	// status is the job status a notice implies when the job's own status
	// was not recorded: "fail" for incident notices, "pass" for good news.
	status string
	render func(f *Facts) Message
}

var templates = map[string]template{
	DeployFailed:       {"fail", renderDeployFailed},
	HealthCheckFailed:  {"fail", renderHealthFailed},
	CanaryFailed:       {"fail", renderCanaryFailed},
	RollbackStarted:    {"fail", renderRollbackStarted},
	RollbackSucceeded:  {"pass", renderRollbackSucceeded},
	RollbackFailed:     {"fail", renderRollbackFailed},
	DeploySucceeded:    {"pass", renderDeploySucceeded},
	PostmortemReminder: {"fail", renderPostmortemReminder},

	// The CircleCI slack orb's, for configs that switch from it (slackorb.go).
	SlackBasicFail:    {"fail", renderBasicFail},
	SlackBasicSuccess: {"pass", renderBasicSuccess},
	SlackTaggedDeploy: {"pass", renderTaggedDeploy},
	SlackBasicOnHold:  {"pass", renderOnHold},
}

// Templates lists the built-in template names.
func Templates() []string {
	return slices.Sorted(maps.Keys(templates))
}

// Render builds the message of a built-in template from f.
func Render(name string, f *Facts) (Message, error) {
	t, ok := templates[name]
	if !ok {
		return Message{}, fmt.Errorf("unknown template %q", name)
	}
	return t.render(f), nil
}

// project is "org/repo", or something that still names it.
func (f *Facts) project() string {
	if p := f.Job.Project(); p != "" {
		return p
	}
	return "this project"
}

func (f *Facts) ref() string {
	if f.Job.Tag != "" {
		return "tag `" + escapeText(f.Job.Tag) + "`"
	}
	if f.Job.Branch != "" {
		return "`" + escapeText(f.Job.Branch) + "`"
	}
	return "the commit"
}

func (f *Facts) commit() string {
	if f.Job.SHA == "" {
		return ""
	}
	s := link(commitURL(f.Job), "`"+shortSHA(f.Job.SHA)+"`")
	if f.Subject != "" {
		s += " " + escapeText(f.Subject)
	}
	return s
}

func (f *Facts) jobLink() string {
	name := f.Job.JobName
	if name == "" {
		name = "job"
	}
	label := escapeText(name)
	if f.Job.BuildNum != "" {
		label += " #" + escapeText(f.Job.BuildNum)
	}
	return link(f.Job.BuildURL, label)
}

// contextFields are the job's facts as section fields.
func (f *Facts) contextFields() map[string]any {
	var fields []string
	fields = append(fields, "*Project*\n"+escapeText(f.project()))
	if f.Job.Tag != "" {
		fields = append(fields, "*Tag*\n`"+escapeText(f.Job.Tag)+"`")
	} else if f.Job.Branch != "" {
		fields = append(fields, "*Branch*\n`"+escapeText(f.Job.Branch)+"`")
	}
	if c := f.commit(); c != "" {
		fields = append(fields, "*Commit*\n"+c)
	}
	fields = append(fields, "*Job*\n"+f.jobLink())
	if f.Job.Username != "" {
		fields = append(fields, "*Triggered by*\n"+escapeText(f.Job.Username))
	}
	if f.Job.PipelineNumber != "" {
		fields = append(fields, "*Pipeline*\n#"+escapeText(f.Job.PipelineNumber))
	}
	return fieldsBlock(fields...)
}

// nextLines say what happens next: the rollback, once one is known, or
// what the canary's own events say was done.
func (f *Facts) nextLines() []string {
	r := f.Rollback
	if r == nil {
		if next := f.Canary.next(); next != nil {
			return next
		}
		return []string{"No rollback has started yet. Check the job, then roll back or fix forward."}
	}
	pipe := "the rollback pipeline"
	if r.PipelineNumber != "" {
		pipe = "rollback pipeline #" + escapeText(r.PipelineNumber)
	}
	pipe = link(r.PipelineURL, pipe)
	target := ""
	if r.Target != "" {
		target = " to `" + escapeText(r.Target) + "`"
	}
	var schema []string
	if len(r.Schema) > 0 && r.State != "failed" {
		schema = []string{":warning: Rolling back the code will not restore service: " + escapeText(strings.Join(r.Schema, "; "))}
	}
	switch r.State {
	case "initiated":
		return append([]string{fmt.Sprintf(":arrows_counterclockwise: Rolling back%s: %s started.", target, pipe)}, schema...)
	case "completed":
		return append([]string{fmt.Sprintf(":white_check_mark: Rolled back%s by %s.", target, pipe)}, schema...)
	case "failed":
		return []string{fmt.Sprintf(":x: The rollback%s failed (%s): %s", target, pipe, orDefault(escapeText(r.Message), "see the pipeline")), "Someone needs to act now."}
	case "skipped":
		return []string{"Rollback skipped: " + orDefault(escapeText(r.Message), "no rollback target")}
	}
	return nil
}

// next is what the canary's events say happens next, or nil when they say
// nothing was done about the verdict.
func (c *CanaryFacts) next() []string {
	switch {
	case c == nil:
		return nil
	case c.Mode == "shadow":
		return []string{"No action was taken (shadow mode): pmguard rolled nothing back and the job went on; whatever decides deploys today still does."}
	case c.RolledBack:
		return []string{"The canary's weight is back at 0%: pmguard set it through set_weight, so the canary serves no traffic.",
			"The job fails, so its rollback steps (`when: on_fail`) run next; nothing is promoted."}
	case c.RollbackError != "":
		return []string{":x: Setting the canary's weight back to 0% failed: " + escapeText(c.RollbackError),
			"The canary may still serve traffic: someone needs to act now. The job's rollback steps (`when: on_fail`) run next."}
	case c.Held && c.Weight > 0:
		return []string{fmt.Sprintf("The canary stays at %d%%, not promoted: the approval job decides.", c.Weight)}
	case c.Held:
		return []string{"The canary stays as it is, not promoted: the approval job decides."}
	case c.Verdict == "passed":
		return []string{"Nothing was rolled back; the workflow goes on."}
	}
	return nil
}

// statusLine sums up the incident for the parent message's context line,
// which chat.update rewrites as the incident moves on.
func (f *Facts) statusLine(base string) string {
	s := base
	if r := f.Rollback; r != nil {
		switch r.State {
		case "initiated":
			s = ":arrows_counterclockwise: *Status:* rolling back"
		case "completed":
			s = ":white_check_mark: *Status:* rolled back, resolved"
		case "failed":
			s = ":x: *Status:* rollback failed, needs attention"
		case "skipped":
			s = ":red_circle: *Status:* failed, rollback skipped"
		}
	}
	return s + " · updated " + f.Now.UTC().Format("2006-01-02 15:04 UTC")
}

func orDefault(s, d string) string {
	if strings.TrimSpace(s) == "" {
		return d
	}
	return s
}

func bullets(lines []string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("• " + l)
	}
	return b.String()
}

func (f *Facts) buttons(extra ...button) map[string]any {
	bs := append([]button{}, extra...)
	if r := f.Rollback; r != nil && r.PipelineURL != "" {
		bs = append(bs, button{Text: "Rollback pipeline", URL: safeURL(r.PipelineURL)})
	}
	bs = append(bs, button{Text: "View job", URL: safeURL(f.Job.BuildURL)})
	if f.PostmortemURL != "" {
		bs = append(bs, button{Text: "Post-mortem draft", URL: safeURL(f.PostmortemURL)})
	}
	return actionsBlock(bs...)
}

// fallback is the plain text Slack shows in notifications: the mentions
// first, so they notify, then what happened.
func (f *Facts) fallback(title string, detail []string) string {
	s := title + ": " + f.project()
	if f.Job.Tag != "" {
		s += " " + f.Job.Tag
	} else if f.Job.Branch != "" {
		s += " " + f.Job.Branch
	}
	if f.Job.SHA != "" {
		s += " " + shortSHA(f.Job.SHA)
	}
	s = escapeText(s)
	if len(detail) > 0 {
		s += ": " + strings.Join(detail, "; ")
	}
	if f.Mentions != "" {
		s = f.Mentions + " " + s
	}
	return s
}

// compose drops nil blocks (an actions block with no URL).
func compose(blocks ...map[string]any) []map[string]any {
	out := blocks[:0]
	for _, b := range blocks {
		if b != nil {
			out = append(out, b)
		}
	}
	return out
}

func (f *Facts) mentionsBlock() map[string]any {
	if f.Mentions == "" {
		return nil
	}
	return sectionBlock(f.Mentions)
}

// summary is one sentence: what happened to which ref, in which job; the
// fields below it carry the commit and the rest.
func (f *Facts) summary(what, outcome string) map[string]any {
	return sectionBlock(fmt.Sprintf("%s of %s %s in %s.", what, f.ref(), outcome, f.jobLink()))
}

// failureNotice is the layout the failure templates share: what failed and
// where, the figures that failed, what happens next and the status line.
type failureNotice struct {
	emoji, title     string // the header: emoji, then title: project
	what, outcome    string // the summary sentence: "<what> of <ref> <outcome> in <job>."
	detailTitle      string
	detail           []string
	noDetail, status string
}

func (f *Facts) failureMessage(n failureNotice) Message {
	return Message{
		Text: f.fallback(n.title, n.detail),
		Blocks: compose(
			headerBlock(n.emoji+" "+n.title+": "+f.project()),
			f.mentionsBlock(),
			f.summary(n.what, n.outcome),
			f.contextFields(),
			sectionBlock(n.detailTitle+"\n"+bullets(orLines(n.detail, n.noDetail))),
			sectionBlock("*What happens next*\n"+bullets(f.nextLines())),
			f.incidentBlock(),
			contextBlock(f.statusLine(n.status)),
			f.buttons(),
		),
	}
}

func renderDeployFailed(f *Facts) Message {
	return f.failureMessage(failureNotice{
		emoji: ":rotating_light:", title: "Deploy failed", what: "The deploy", outcome: "failed",
		detailTitle: "*What failed*", detail: f.failureLines(),
		noDetail: "The job failed; pmguard recorded no figures for it. See the job.",
		status:   ":red_circle: *Status:* deploy failed",
	})
}

func renderHealthFailed(f *Facts) Message {
	n := failureNotice{
		emoji: ":broken_heart:", title: "Health check failed", what: "The health check after the deploy", outcome: "failed",
		detailTitle: "*Failing endpoints*",
		noDetail:    "pmguard recorded no endpoint results. See the job.",
		status:      ":red_circle: *Status:* health check failed",
	}
	if h := f.Health; h != nil {
		n.detail = h.lines()
		if h.Endpoints > 0 {
			n.detailTitle = fmt.Sprintf("*Failing endpoints* (%d of %d)", h.Failed, h.Endpoints)
		}
	}
	if f.Failure != "" {
		n.detail = append(n.detail, escapeText(f.Failure))
	}
	return f.failureMessage(n)
}

func renderCanaryFailed(f *Facts) Message {
	n := failureNotice{
		emoji: ":bird:", title: "Canary failed", what: "The canary", outcome: "failed",
		detailTitle: "*Canary verdict:* failed",
		noDetail:    "pmguard recorded no canary figures. See the job.",
		status:      ":red_circle: *Status:* canary failed",
	}
	if f.Canary == nil {
		// No verdict in the event log: the step failed before the analysis
		// (a bad parameter, the install, deploy_canary), so no canary was
		// judged, and the notice must not say one failed.
		n.title, n.what, n.outcome = "Canary step failed", "The canary step", "failed before the canary was judged"
		n.detailTitle = "*Canary verdict:* none"
		n.noDetail = "The step failed before the analysis gave a verdict (a bad parameter, the install or deploy_canary failing): no canary was judged. See the job."
		n.status = ":red_circle: *Status:* canary step failed, no verdict"
	}
	if c := f.Canary; c != nil {
		n.detail = c.lines(c.Verdict == "failed")
		if c.Verdict != "" {
			n.detailTitle = "*Canary verdict:* " + c.Verdict
		}
		if c.RolledBack {
			n.status = ":red_circle: *Status:* canary failed, weight back at 0%"
		}
		switch {
		case c.Mode == "shadow":
			// Shadow mode posts every verdict and enforces none.
			n.title, n.outcome = "Canary "+c.Verdict+" (shadow mode)", c.Verdict+" in shadow mode"
			n.status = ":large_blue_circle: *Status:* shadow analysis, not enforced"
		case c.Held:
			// on_inconclusive hold posts every verdict: the approver needs
			// to know whether it was a pass or a hold.
			n.title, n.outcome = "Canary held for approval", "was inconclusive and is held for approval"
			n.status = ":large_yellow_circle: *Status:* held, waiting for approval"
		case c.Verdict == "passed":
			n.title, n.outcome = "Canary passed", "passed"
			n.status = ":large_green_circle: *Status:* canary passed"
		}
	}
	return f.failureMessage(n)
}

func renderRollbackStarted(f *Facts) Message {
	next := f.nextLines()
	if f.Rollback == nil {
		next = []string{"A rollback was requested; pmguard recorded no pipeline for it yet."}
	}
	return f.rollbackMessage(rollbackNotice{
		emoji: ":rewind:", title: "Rollback started", next: bullets(next), why: f.failureLines(),
		status: ":arrows_counterclockwise: *Status:* rolling back",
	})
}

func renderRollbackSucceeded(f *Facts) Message {
	return f.rollbackMessage(rollbackNotice{
		emoji: ":white_check_mark:", title: "Rolled back", next: bullets(f.nextLines()),
		status: ":white_check_mark: *Status:* rolled back, resolved",
	})
}

func renderRollbackFailed(f *Facts) Message {
	next := f.nextLines()
	if f.Rollback == nil || f.Rollback.State != "failed" {
		next = []string{":x: The rollback did not finish.", "Someone needs to act now."}
	}
	return f.rollbackMessage(rollbackNotice{
		emoji: ":x:", title: "Rollback failed", next: "*Production may still run the failed deploy.*\n" + bullets(next),
		incident: true, status: ":x: *Status:* rollback failed, needs attention",
	})
}

// rollbackNotice is the layout the rollback templates share: what was done
// and what happens next, why (when known), the job's facts and the status
// line.
type rollbackNotice struct {
	emoji, title string // the header: emoji, then title: project
	next         string
	why          []string
	incident     bool // link the incident channel
	status       string
}

func (f *Facts) rollbackMessage(n rollbackNotice) Message {
	var why, incident map[string]any
	if len(n.why) > 0 {
		why = sectionBlock("*Why*\n" + bullets(n.why))
	}
	if n.incident {
		incident = f.incidentBlock()
	}
	return Message{
		Text: f.fallback(n.title, rollbackDetail(f)),
		Blocks: compose(
			headerBlock(n.emoji+" "+n.title+": "+f.project()),
			f.mentionsBlock(),
			sectionBlock(n.next),
			why,
			f.contextFields(),
			incident,
			contextBlock(f.statusLine(n.status)),
			f.buttons(),
		),
	}
}

func rollbackDetail(f *Facts) []string {
	r := f.Rollback
	if r == nil {
		return nil
	}
	var d []string
	if r.Target != "" {
		d = append(d, "target "+escapeText(r.Target))
	}
	if r.PipelineNumber != "" {
		d = append(d, "pipeline #"+escapeText(r.PipelineNumber))
	}
	if r.State == "failed" && r.Message != "" {
		d = append(d, escapeText(r.Message))
	}
	return d
}

func renderDeploySucceeded(f *Facts) Message {
	var checks []string
	if h := f.Health; h != nil && h.Passed {
		checks = append(checks, fmt.Sprintf("health: %d endpoint(s) healthy", h.Endpoints))
	}
	if c := f.Canary; c != nil && c.Verdict == "passed" {
		checks = append(checks, "canary passed: "+strings.Join(c.lines(false), ", "))
	}
	blocks := []map[string]any{
		headerBlock(":rocket: Deployed: " + f.project()),
		f.mentionsBlock(),
		f.summary("The deploy", "succeeded"),
		f.contextFields(),
	}
	if len(checks) > 0 {
		blocks = append(blocks, sectionBlock("*Checks*\n"+bullets(checks)))
	}
	blocks = append(blocks, f.buttons())
	return Message{Text: f.fallback("Deployed", checks), Blocks: compose(blocks...)}
}

func renderPostmortemReminder(f *Facts) Message {
	when := "this incident"
	if !f.IncidentStarted.IsZero() {
		when = "the incident of " + f.IncidentStarted.UTC().Format("2006-01-02 15:04 UTC")
	}
	draft := "The draft is in the failed job's artifacts: run `pmguard postmortem` if it is not."
	if u := safeURL(f.PostmortemURL); u != "" {
		draft = "Draft: " + link(u, "open the post-mortem draft")
	}
	return Message{
		Text: f.fallback("Post-mortem due", []string{"write the blameless post-mortem of " + when}),
		Blocks: compose(
			headerBlock(":memo: Post-mortem due: "+f.project()),
			f.mentionsBlock(),
			sectionBlock(fmt.Sprintf("Time to write the blameless post-mortem of %s (deploy of %s).\n%s", when, f.ref(), draft)),
			f.contextFields(),
			f.buttons(),
		),
	}
}

// incidentBlock links the incident channel from the main channel's notice.
func (f *Facts) incidentBlock() map[string]any {
	if f.IncidentChannel == "" {
		return nil
	}
	return sectionBlock(":speech_balloon: Incident channel: <#" + f.IncidentChannel + ">")
}

func orLines(lines []string, none string) []string {
	if len(lines) == 0 {
		return []string{none}
	}
	return lines
}
