package notify

import (
	"strconv"
	"strings"
)

// The CircleCI slack orb's built-in templates, by the names its users
// already have in their configs. Each renders the blocks the slack orb's
// template posts, with the job's values filled in from the CircleCI
// environment as the slack orb fills its $VARs, but built in Go: a branch
// name or user with quotes, '*' or '<' is shown as written and cannot break
// the JSON. When pmguard knows more about the incident (failing figures in
// the event log, a rollback, an incident channel), the blocks the slack orb
// has come first and pmguard's own follow; without that they are the slack
// orb's blocks alone.
const (
	SlackBasicFail     = "basic_fail_1"
	SlackBasicSuccess  = "basic_success_1"
	SlackTaggedDeploy  = "success_tagged_deploy_1"
	SlackBasicOnHold   = "basic_on_hold_1"
	circleLogo         = "https://assets.brandfolder.com/otz5mn-bw4j2w-6jzqo8/original/circle-logo-badge-black.png"
	slackOrbWhenLayout = "01/02/2006 15:04:05" // date +'%m/%d/%Y %T'
)

// lookupTemplate finds a built-in template however its name is cased:
// pmguard's are upper case (DEPLOY_FAILED), the slack orb's lower case
// (basic_fail_1).
func lookupTemplate(name string) (string, bool) {
	name = strings.TrimSpace(name)
	for _, n := range []string{name, strings.ToUpper(name), strings.ToLower(name)} {
		if _, ok := templates[n]; ok {
			return n, true
		}
	}
	return "", false
}

// field is one "*Label*: value" section field, the slack orb's form; the
// value is the job's, escaped for mrkdwn.
func field(label, value string) string { return "*" + label + "*: " + escapeText(value) }

func logoSection(fields ...string) map[string]any {
	b := fieldsBlock(fields...)
	b["accessory"] = map[string]any{"type": "image", "image_url": circleLogo, "alt_text": "CircleCI logo"}
	return b
}

// mentionsField is the slack orb's "*Mentions*:" line: the mentions setting
// as markup, so <@U0123> and <!here> notify.
func (f *Facts) mentionsField() map[string]any {
	return fieldsBlock("*Mentions*: " + f.Mentions)
}

func viewButton(actionID, text, url string) map[string]any {
	if url = safeURL(url); url == "" {
		return nil
	}
	return map[string]any{"type": "actions", "elements": []any{map[string]any{
		"type": "button", "action_id": actionID, "text": map[string]any{"type": "plain_text", "text": text}, "url": url,
	}}}
}

// incidentExtras are pmguard's blocks after a failure template's own: what
// failed, what happens next and the status line chat.update rewrites as the
// incident moves on. None when pmguard knows nothing more than the job.
func (f *Facts) incidentExtras() []map[string]any {
	failed := f.failureLines()
	if len(failed) == 0 && f.Rollback == nil && f.IncidentChannel == "" {
		return nil
	}
	var out []map[string]any
	if len(failed) > 0 {
		out = append(out, sectionBlock("*What failed*\n"+bullets(failed)))
	}
	out = append(out, sectionBlock("*What happens next*\n"+bullets(f.nextLines())), f.incidentBlock(),
		contextBlock(f.statusLine(":red_circle: *Status:* job failed")))
	if r := f.Rollback; r != nil && r.PipelineURL != "" {
		out = append(out, actionsBlock(button{Text: "Rollback pipeline", URL: safeURL(r.PipelineURL)}))
	}
	return out
}

// checkExtras name the health and canary checks that passed, after a
// success template's own blocks.
func (f *Facts) checkExtras() []map[string]any {
	var checks []string
	if h := f.Health; h != nil && h.Passed {
		checks = append(checks, "health: "+plural(h.Endpoints, "endpoint")+" healthy")
	}
	if c := f.Canary; c != nil && c.Verdict == "passed" {
		checks = append(checks, "canary passed: "+strings.Join(c.lines(false), ", "))
	}
	if len(checks) == 0 {
		return nil
	}
	return []map[string]any{sectionBlock("*Checks*\n" + bullets(checks))}
}

func plural(n int, what string) string {
	s := strconv.Itoa(n) + " " + what
	if n != 1 {
		s += "s"
	}
	return s
}

// basicJob is the layout of basic_fail_1 and basic_success_1: a header, the
// job, the project's fields beside CircleCI's logo, the mentions and the
// job's button; pmguard's extras follow.
func (f *Facts) basicJob(header, actionID string, project []string, extras []map[string]any) []map[string]any {
	blocks := []map[string]any{
		headerBlock(header),
		fieldsBlock(field("Job", f.Job.JobName)),
		logoSection(project...),
		f.mentionsField(),
		viewButton(actionID, "View Job", f.Job.BuildURL),
	}
	return compose(append(blocks, extras...)...)
}

func renderBasicFail(f *Facts) Message {
	project := []string{field("Project", f.Job.ProjectRepo), field("Branch", f.Job.Branch), field("Author", f.Job.Username)}
	return Message{Text: "CircleCI job failed.", Blocks: f.basicJob("Job Failed. :red_circle:", "basic_fail_view", project, f.incidentExtras())}
}

func renderBasicSuccess(f *Facts) Message {
	project := []string{field("Project", f.Job.ProjectRepo), field("Branch", f.Job.Branch), field("Commit", f.Job.SHA), field("Author", f.Job.Username)}
	return Message{Text: "CircleCI job succeeded!", Blocks: f.basicJob("Job Succeeded. :white_check_mark:", "basic_success_view", project, f.checkExtras())}
}

func renderTaggedDeploy(f *Facts) Message {
	blocks := []map[string]any{
		headerBlock("Deployment Successful! :tada:"),
		// The slack orb's shell evaluates $(date +'%m/%d/%Y %T') on the
		// executor; pmguard formats its own clock the same way.
		logoSection(field("Project", f.Job.ProjectRepo), field("When", f.Now.UTC().Format(slackOrbWhenLayout)), field("Tag", f.Job.Tag)),
		viewButton("success_tagged_deploy_view", "View Job", f.Job.BuildURL),
	}
	return Message{Text: "CircleCI job succeeded!", Blocks: compose(append(blocks, f.checkExtras()...)...)}
}

func renderOnHold(f *Facts) Message {
	workflow := ""
	if f.Job.WorkflowID != "" {
		workflow = strings.TrimRight(f.circleciHost(), "/") + "/workflow-run/" + f.Job.WorkflowID
	}
	return Message{Text: "CircleCI job on hold, waiting for approval.", Blocks: compose(
		headerBlock("ON HOLD - Awaiting Approval :raised_hand:"),
		logoSection(field("Project", f.Job.ProjectRepo), field("Branch", f.Job.Branch), field("Author", f.Job.Username)),
		f.mentionsField(),
		viewButton("basic_on_hold_view", "View Workflow", workflow),
	)}
}

func (f *Facts) circleciHost() string {
	if f.CircleCIHost != "" {
		return f.CircleCIHost
	}
	return "https://circleci.com"
}
