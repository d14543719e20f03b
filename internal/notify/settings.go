package notify

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/pmguard/pmguard/internal/config"
)

// Settings are pmguard notify's inputs: flags and PMGUARD_NOTIFY_* env vars.
type Settings struct {
	config.Shared
	Event              string          `env:"EVENT, default=always" flag:"event" form:"one of \"fail\", \"pass\", \"always\"" usage:"send when the job failed (fail), passed (pass) or always"`
	Channel            config.List     `env:"CHANNEL, default=$SLACK_DEFAULT_CHANNEL" flag:"channel" usage:"channel names or IDs, separated by commas or blanks (default: $SLACK_DEFAULT_CHANNEL)"`
	Template           string          `env:"TEMPLATE" flag:"template" usage:"built-in template: DEPLOY_FAILED, HEALTH_CHECK_FAILED, CANARY_FAILED, ROLLBACK_STARTED, ROLLBACK_SUCCEEDED, ROLLBACK_FAILED, DEPLOY_SUCCEEDED, POSTMORTEM_REMINDER, or ROLLBACK: the rollback's state from the event log; the CircleCI slack orb's basic_fail_1, basic_success_1, success_tagged_deploy_1, basic_on_hold_1; or the name of an environment variable holding a custom Block Kit message (default: DEPLOY_FAILED when the job failed, DEPLOY_SUCCEEDED when it passed)"`
	Custom             string          `env:"CUSTOM" flag:"custom" usage:"a custom Block Kit message as inline JSON, or $VAR naming an environment variable that holds it; $VAR and ${VAR} inside its strings are expanded from pmguard's own PMGUARD_* figures and the environment, except credentials"`
	TemplateVars       config.List     `env:"TEMPLATE_VARS" flag:"template-vars" usage:"more environment variables a custom template may expand, comma-separated (CircleCI's job facts such as CIRCLE_BRANCH always may); a variable named by token_env, access_token or webhook_env, or whose name looks like a credential (TOKEN, KEY, SECRET, PASSWORD ...), is never expanded"`
	TemplateFile       config.File     `env:"TEMPLATE_FILE" flag:"template-file" usage:"a file holding a custom Block Kit message (as --custom)"`
	Mentions           string          `env:"MENTIONS" flag:"mentions" usage:"who to mention, in Slack markup: <@U0123>, <!subteam^S0123|oncall>, <!here>"`
	BranchPattern      string          `env:"BRANCH_PATTERN" flag:"branch-pattern" form:"regular expressions (RE2) separated by commas or blanks, each matching a whole branch name" usage:"send only for branches matching one of these regular expressions (empty: every branch)"`
	TagPattern         string          `env:"TAG_PATTERN" flag:"tag-pattern" form:"regular expressions (RE2) separated by commas or blanks, each matching a whole tag" usage:"send only for tags matching one of these regular expressions (empty: every tag)"`
	InvertMatch        bool            `env:"INVERT_MATCH, default=false" flag:"invert-match" usage:"send only for branches and tags that do NOT match branch_pattern / tag_pattern (an empty pattern still matches everything)"`
	TokenEnv           config.EnvName  `env:"TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"token-env" usage:"name of the env var holding the Slack bot token (xoxb-...)"`
	AccessToken        config.EnvName  `env:"ACCESS_TOKEN, default=SLACK_ACCESS_TOKEN" flag:"access-token" usage:"the CircleCI slack orb's name for token_env; either may be set (setting both to different names is an error)"`
	APIDomain          string          `env:"API_DOMAIN, default=slack.com" flag:"api-domain" form:"a host name such as slack.com or slack-gov.com" usage:"Slack's domain: slack.com, or slack-gov.com for GovSlack; any other than slack.com sends to https://<api_domain>/api/"`
	WebhookEnv         config.EnvName  `env:"WEBHOOK_ENV, default=SLACK_WEBHOOK_URL" flag:"webhook-env" usage:"name of the env var holding an incoming webhook URL, used when there is no token (no threads, no channel choice)"`
	Thread             bool            `env:"THREAD, default=true" flag:"thread" usage:"one thread per incident: later notices of a failed pipeline reply to the first and update its status line"`
	FailOnError        bool            `env:"FAIL_ON_ERROR, default=false" flag:"fail-on-error" usage:"exit 3 when Slack cannot be reached or refuses the message (default: warn and exit 0)"`
	IgnoreErrors       bool            `env:"IGNORE_ERRORS, default=true" flag:"ignore-errors" usage:"the CircleCI slack orb's form of fail_on_error: false fails the step (exit 3) when Slack cannot be reached or refuses the message"`
	Debug              bool            `env:"DEBUG, default=false" flag:"debug" usage:"print each message as sent to Slack (Block Kit JSON) and what Slack answered; secrets stay redacted"`
	ThreadID           string          `env:"THREAD_ID" flag:"thread-id" usage:"a name for a thread of your own: the first notice with this thread_id in a channel starts it, later ones of the same pipeline reply in it (instead of the incident thread)"`
	ScheduledOffset    config.Count    `env:"SCHEDULED_OFFSET_SECONDS, default=0" flag:"scheduled-offset-seconds" usage:"schedule the notice this many seconds from now (chat.scheduleMessage) instead of posting it; 0 posts at once"`
	UnfurlLinks        bool            `env:"UNFURL_LINKS, default=false" flag:"unfurl-links" usage:"let Slack add previews of the links in the message (off: a job link's preview would bury the notice)"`
	UnfurlMedia        bool            `env:"UNFURL_MEDIA, default=true" flag:"unfurl-media" usage:"let Slack add previews of media (images, video) linked in the message"`
	Retries            config.Count    `env:"RETRIES, default=3" flag:"retries" usage:"retries of each Slack call after a transient failure (5xx, 429, unreachable, service_unavailable); 0: none, more than 10: 10"`
	RetryDelay         string          `env:"RETRY_DELAY, default=1" flag:"retry-delay" form:"seconds (30; 0: at once) or a Go duration (1s, 500ms)" usage:"the wait before the first retry; later waits double, jittered, up to 4 times this, and none passes timeout (Slack's Retry-After is honoured instead when it sends one)"`
	WindowsExecution   bool            `env:"WINDOWS_EXECUTION, default=false" flag:"windows-execution" usage:"accepted for the CircleCI slack orb's configs; pmguard finds the executor's platform itself, so it changes nothing and says so when the executor is not Windows"`
	CircleCIHost       config.BaseURL  `env:"CIRCLECI_HOST, default=$PMGUARD_CIRCLECI_HOST" flag:"circleci-host" usage:"CircleCI's web address for links in messages, e.g. basic_on_hold_1's workflow link and $SLACK_PARAM_CIRCLECI_HOST (default: $PMGUARD_CIRCLECI_HOST, else https://circleci.com)"`
	IncidentChannel    bool            `env:"INCIDENT_CHANNEL, default=false" flag:"incident-channel" usage:"create a channel for the incident (inc-YYYYMMDD-repo-pipeline), invite the responders and link it from the main channel"`
	Responders         config.List     `env:"RESPONDERS" flag:"responders" usage:"Slack user IDs or emails to invite to the incident channel, comma-separated"`
	PostmortemReminder string          `env:"POSTMORTEM_REMINDER" flag:"postmortem-reminder" form:"true (3 days), false, or a delay such as 3d, 36h or 90m (at most 120d)" usage:"schedule a reminder to write the post-mortem, this long after the incident's first notice"`
	PostmortemURL      config.URL      `env:"POSTMORTEM_URL" flag:"postmortem-url" usage:"link to the post-mortem draft, shown in notices and the reminder"`
	JobStatus          string          `env:"JOB_STATUS" flag:"job-status" form:"pass or fail" usage:"the job's status so far; default: $PMGUARD_JOB_STATUS, which the orb records with when: on_fail / on_success steps (and in a file per job, for images without bash), else what the template implies"`
	IncidentKey        string          `env:"INCIDENT_KEY" flag:"incident-key" usage:"what ties notices to one incident thread (default: $CIRCLE_PIPELINE_ID); a rollback pipeline passes the failed pipeline's id"`
	Timeout            config.Duration `env:"TIMEOUT, default=30s" flag:"timeout" usage:"the most notify may take, every Slack call and rate-limit wait included"`
	APIURL             config.BaseURL  `env:"SLACK_API_URL, default=$PMGUARD_SLACK_API_URL" flag:"slack-api-url" usage:"Slack Web API base URL, for a proxy or a test double (default: $PMGUARD_SLACK_API_URL, else https://slack.com/api/)"`
}

// plan is Settings checked and resolved.
type plan struct {
	event          string // fail, pass, always
	channels       []string
	template       string // built-in name, or "" for a custom message
	custom         []byte
	customField    any    // the setting holding the custom message, for errors
	text           string // the calling verb's own message (Post), as mrkdwn
	mentions       string
	branchPatterns []*regexp.Regexp
	tagPatterns    []*regexp.Regexp
	tokenEnv       string
	webhookEnv     string
	token          string
	webhook        string
	mode           string // api, webhook or preview
	thread         bool
	failOnError    bool
	incident       bool
	responders     []string
	reminder       time.Duration
	postmortemURL  string
	jobStatus      string // pass, fail or "" when unknown
	incidentKey    string
	timeout        time.Duration
	apiURL         string
	vars           templateVars
	invert         bool
	debug          bool
	threadID       string        // thread_id; "" for the incident thread
	offset         time.Duration // scheduled_offset_seconds; 0 posts at once
	unfurlLinks    bool
	unfurlMedia    bool
	retries        int
	retryDelay     time.Duration
	circleciHost   string
}

// maxReminder is how far ahead chat.scheduleMessage accepts a message.
const maxReminder = 120 * 24 * time.Hour

// defaultReminder is the delay of postmortem_reminder: true.
const defaultReminder = 72 * time.Hour

// invalid reports bad input in the setting field points to. Settings built
// in Go (Post, tests) have no loaded set: the message names the value.
func (o *Options) invalid(field any, value, cause, form string) error {
	if o.set != nil {
		return o.set.Invalid(field, value, cause, form)
	}
	msg := fmt.Sprintf("pmguard notify: invalid setting %q: %s", value, cause)
	if form != "" {
		msg += "; accepted: " + form
	}
	return config.Invalidf("%s", msg)
}

// resolve checks the settings; every error is bad input, found before any
// network call.
func (o *Options) resolve() (*plan, error) {
	s := &o.Settings
	p := &plan{
		channels:    s.Channel,
		mentions:    strings.TrimSpace(s.Mentions),
		tokenEnv:    string(s.TokenEnv),
		webhookEnv:  string(s.WebhookEnv),
		thread:      s.Thread,
		incident:    s.IncidentChannel,
		responders:  s.Responders,
		incidentKey: strings.TrimSpace(s.IncidentKey),
		timeout:     s.Timeout.Duration,
	}
	p.event = strings.ToLower(strings.TrimSpace(s.Event))
	if err := config.Choice(p.event, "fail", "pass", "always"); err != nil {
		return nil, o.invalid(&s.Event, s.Event, "not an event", config.Quote("fail", "pass", "always"))
	}
	if p.timeout <= 0 {
		return nil, o.invalid(&s.Timeout, s.Timeout.String(), "must be more than 0", "")
	}
	if err := o.resolveCompat(p); err != nil {
		return nil, err
	}
	if err := o.resolveMessage(p); err != nil {
		return nil, err
	}
	var err error
	if p.branchPatterns, err = patterns(s.BranchPattern); err != nil {
		return nil, o.invalid(&s.BranchPattern, s.BranchPattern, err.Error(), "")
	}
	if p.tagPatterns, err = patterns(s.TagPattern); err != nil {
		return nil, o.invalid(&s.TagPattern, s.TagPattern, err.Error(), "")
	}
	if p.jobStatus, err = o.jobStatus(); err != nil {
		return nil, err
	}
	if p.reminder, err = parseReminder(s.PostmortemReminder); err != nil {
		return nil, o.invalid(&s.PostmortemReminder, s.PostmortemReminder, err.Error(), "")
	}
	if s.PostmortemURL.URL != nil {
		p.postmortemURL = s.PostmortemURL.String()
	}
	p.apiURL = "https://slack.com/api/"
	if s.APIURL.URL != nil {
		p.apiURL = s.APIURL.String()
	}
	if d := strings.TrimSpace(s.APIDomain); d != "" && !strings.EqualFold(d, "slack.com") {
		if !apiDomain.MatchString(d) {
			return nil, o.invalid(&s.APIDomain, s.APIDomain, "not a host name", "a host name such as slack.com or slack-gov.com, without https:// or a path")
		}
		p.apiURL = "https://" + d + "/api/"
	}
	if !strings.HasSuffix(p.apiURL, "/") {
		p.apiURL += "/"
	}
	for _, r := range p.responders {
		if !isUserID(r) && !strings.Contains(r, "@") {
			return nil, o.invalid(&s.Responders, r, "neither a Slack user ID nor an email", "Slack user IDs (U0123ABCD) or emails, comma-separated")
		}
	}
	p.channels = o.channels()
	p.vars = newTemplateVars(s.TemplateVars, p.tokenEnv, string(s.TokenEnv), string(s.AccessToken), p.webhookEnv)
	return p, o.resolveMode(p)
}

// resolveCompat reads the settings the CircleCI slack orb's notify has
// under its own names or pmguard has no other form of, so its configs work
// with the orb line changed.
func (o *Options) resolveCompat(p *plan) error {
	s := &o.Settings
	// access_token is the slack orb's token_env. Both default to
	// SLACK_ACCESS_TOKEN, so whichever was changed wins.
	const defaultToken = "SLACK_ACCESS_TOKEN"
	switch tok, acc := string(s.TokenEnv), string(s.AccessToken); {
	case acc != defaultToken && tok == defaultToken:
		p.tokenEnv = acc
	case acc != defaultToken && acc != tok:
		return o.invalid(&s.AccessToken, acc, "token_env names another variable ("+tok+")", "one of token_env or access_token")
	}
	// ignore_errors: false is fail_on_error: true; either fails the step.
	p.failOnError = s.FailOnError || !s.IgnoreErrors
	p.invert, p.debug = s.InvertMatch, s.Debug
	p.unfurlLinks, p.unfurlMedia = s.UnfurlLinks, s.UnfurlMedia
	p.threadID = strings.TrimSpace(s.ThreadID)
	p.retries = int(s.Retries)
	if p.retries > maxRetries {
		// The slack orb takes any number; refusing it would fail the step
		// of a config that worked there.
		fmt.Fprintf(o.out, "pmguard notify: retries %d is more than %d; retrying %d times (every retry of a call fits in timeout anyway)\n", p.retries, maxRetries, maxRetries)
		p.retries = maxRetries
	}
	var err error
	if p.retryDelay, err = parseRetryDelay(s.RetryDelay); err != nil {
		return o.invalid(&s.RetryDelay, s.RetryDelay, err.Error(), "")
	}
	p.offset = time.Duration(s.ScheduledOffset) * time.Second
	if p.offset > maxReminder {
		return o.invalid(&s.ScheduledOffset, strconv.Itoa(int(s.ScheduledOffset)), "more than 120 days: Slack schedules messages at most 120 days ahead", "")
	}
	p.circleciHost = "https://circleci.com"
	if s.CircleCIHost.URL != nil {
		p.circleciHost = strings.TrimRight(s.CircleCIHost.String(), "/")
	}
	return nil
}

// maxRetries caps retries: each call's retries all fit in timeout anyway.
const maxRetries = 10

var apiDomain = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)

// parseRetryDelay reads retry_delay: whole seconds as the CircleCI slack orb
// takes them ("30"), or a Go duration ("1s", "500ms").
func parseRetryDelay(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		switch {
		case n < 0:
			return 0, fmt.Errorf("must not be negative")
		case n == 0:
			// The slack orb's 0: retry at once (a zero would be httpx's
			// default wait).
			return time.Millisecond, nil
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("not a delay: seconds (30) or a Go duration (1s, 500ms)")
	}
	if d <= 0 {
		return 0, fmt.Errorf("must be more than 0")
	}
	return d, nil
}

// resolveMessage reads which message is sent: a built-in template or a
// custom one, parsed once now so a broken template is bad input, not a
// Slack error.
func (o *Options) resolveMessage(p *plan) error {
	s := &o.Settings
	tmpl := strings.TrimSpace(s.Template)
	custom := strings.TrimSpace(s.Custom)
	switch {
	case custom != "" && s.TemplateFile != "":
		return o.invalid(&s.Custom, "(inline JSON)", "custom and template_file are both set", "one of custom, template_file or template")
	case custom != "":
		p.custom, p.customField = []byte(s.Custom), &s.Custom
		// The slack orb reads custom: $MY_TEMPLATE from the environment.
		if name, ok := varRef(custom); ok {
			b, why := o.envTemplate(p, name)
			if why != "" {
				return o.invalid(&s.Custom, custom, why, "Block Kit JSON, or $VAR naming an environment variable that holds it")
			}
			p.custom = b
		}
	case s.TemplateFile != "":
		b, err := os.ReadFile(string(s.TemplateFile))
		if err != nil {
			return o.invalid(&s.TemplateFile, string(s.TemplateFile), err.Error(), "")
		}
		p.custom, p.customField = b, &s.TemplateFile
	case tmpl != "":
		if strings.EqualFold(tmpl, RollbackState) {
			p.template = RollbackState
			break
		}
		if name, ok := lookupTemplate(tmpl); ok {
			p.template = name
			break
		}
		// Else, as in the slack orb, the name of an environment variable
		// holding the message (exported in an earlier step through $BASH_ENV).
		name, ok := varRef(tmpl)
		if !ok && isName(tmpl) {
			name, ok = tmpl, true
		}
		why := "not a built-in template nor the name of an environment variable"
		if ok {
			var b []byte
			if b, why = o.envTemplate(p, name); why == "" {
				p.custom, p.customField = b, &s.Template
				break
			}
			why = "not a built-in template, and " + why
		}
		return o.invalid(&s.Template, s.Template, why,
			config.Quote(append(Templates(), RollbackState)...)+", or the name of an environment variable holding Block Kit JSON")
	}
	if p.custom == nil {
		return nil
	}
	if tmpl != "" && p.customField != &s.Template {
		// The slack orb sends custom when both are set; so does pmguard.
		fmt.Fprintf(o.out, "pmguard notify: template %q is not used: a custom message is set, and it wins\n", tmpl)
	}
	if _, _, err := ParseCustom(p.custom, func(string) string { return "" }); err != nil {
		return o.invalid(p.customField, shorten(o.d.Redactor.Redact(string(p.custom)), 80), err.Error(), "Block Kit JSON: {\"blocks\": [...]} as built in Slack's Block Kit Builder")
	}
	return nil
}

// varRef reports whether s is one variable reference, $NAME or ${NAME}.
func varRef(s string) (string, bool) {
	if !strings.HasPrefix(s, "$") {
		return "", false
	}
	name := strings.TrimPrefix(s, "$")
	if strings.HasPrefix(name, "{") && strings.HasSuffix(name, "}") {
		name = name[1 : len(name)-1]
	}
	return name, isName(name)
}

// envTemplate reads a message from the environment variable name, or says
// why it cannot: a credential is never read as a template, since an error
// about it would show its value.
func (o *Options) envTemplate(p *plan, name string) ([]byte, string) {
	if name == p.tokenEnv || name == string(o.Settings.WebhookEnv) || looksLikeCredential(name) {
		return nil, "$" + name + " holds a credential, not a template"
	}
	v := o.d.Getenv(name)
	if strings.TrimSpace(v) == "" {
		return nil, "$" + name + " is not set (export it to $BASH_ENV in an earlier step)"
	}
	if o.d.Redactor.Redact(v) != v {
		return nil, "$" + name + " holds a secret of this run, not a template"
	}
	return []byte(v), ""
}

// jobStatus is the job's status: job_status, else what the orb recorded in
// $PMGUARD_JOB_STATUS (when: on_fail / on_success steps), else in the job's
// status file (the same steps, for a /bin/sh that skips $BASH_ENV), else
// unknown.
func (o *Options) jobStatus() (string, error) {
	s := &o.Settings
	status := s.JobStatus
	if strings.TrimSpace(status) == "" {
		status = o.d.Getenv("PMGUARD_JOB_STATUS")
	}
	if strings.TrimSpace(status) == "" {
		if f := o.d.Job.StatusFile(o.d.Getenv("TMPDIR")); f != "" {
			if b, err := os.ReadFile(f); err == nil && len(b) < 64 {
				status = string(b)
			}
		}
	}
	switch st := strings.ToLower(strings.TrimSpace(status)); st {
	case "":
		return "", nil
	case "pass", "passed", "success", "succeeded":
		return "pass", nil
	case "fail", "failed", "failure":
		return "fail", nil
	}
	return "", o.invalid(&s.JobStatus, status, "not a job status (job_status, or $PMGUARD_JOB_STATUS as the orb records it)", "pass or fail")
}

// channels are the channel settings, one item each. The orb's default
// channel is the text "$SLACK_DEFAULT_CHANNEL" (CircleCI does not expand
// environment: values), so variables are expanded here.
func (o *Options) channels() []string {
	var chans []string
	for _, c := range o.Settings.Channel {
		for _, item := range slackOrbList(expandVars(c, o.d.Getenv)) {
			if item = strings.TrimPrefix(item, "#"); item != "" {
				chans = append(chans, item)
			}
		}
	}
	return chans
}

// slackOrbList splits a list setting of the CircleCI slack orb (channel,
// branch_pattern, tag_pattern) as its script's shell does: at commas and
// at blanks, so "C1 C2" and "main, develop" are two items each. Neither a
// channel nor a branch or tag name can hold a blank.
func slackOrbList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// resolveMode picks how the notice goes: the Web API with a token, an
// incoming webhook without one, else a preview on stdout.
func (o *Options) resolveMode(p *plan) error {
	s := &o.Settings
	p.token = strings.TrimSpace(o.d.Getenv(p.tokenEnv))
	p.webhook = strings.TrimSpace(o.d.Getenv(p.webhookEnv))
	o.d.Redactor.Add(p.token)
	o.d.Redactor.Add(webhookSecrets(p.webhook)...)
	switch {
	case p.token != "":
		p.mode = "api"
		if len(p.channels) == 0 {
			return o.invalid(&s.Channel, "", "no channel given and $SLACK_DEFAULT_CHANNEL is not set", "channel names or IDs, comma-separated")
		}
	case p.webhook != "":
		p.mode = "webhook"
		if _, err := config.ParseURL(p.webhook); err != nil {
			// The URL is the secret: name the variable, never its value.
			return o.invalid(&s.WebhookEnv, p.webhookEnv, "$"+p.webhookEnv+" does not hold an incoming webhook URL: "+err.Error(),
				"the name of an environment variable holding an https:// incoming webhook URL")
		}
	default:
		p.mode = "preview"
		if p.failOnError {
			// Nothing to send with, and a preview would not fail the
			// step: name the setting that names the token's variable.
			var setting any = &s.TokenEnv
			if p.tokenEnv != string(s.TokenEnv) {
				setting = &s.AccessToken
			}
			why := "fail_on_error is set"
			if !s.IgnoreErrors {
				why = "ignore_errors is false"
			}
			return o.invalid(setting, p.tokenEnv, fmt.Sprintf("%s, but $%s holds no Slack token and $%s (webhook_env) no incoming webhook URL", why, p.tokenEnv, p.webhookEnv),
				"the name of an env var holding a Slack bot token (xoxb-...); or webhook_env naming one holding an incoming webhook URL")
		}
	}
	return nil
}

func isUserID(s string) bool {
	if len(s) < 3 || (s[0] != 'U' && s[0] != 'W') {
		return false
	}
	for _, c := range s[1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// patterns compiles a list of regular expressions (separated as the
// CircleCI slack orb separates them: commas, blanks), each anchored so it
// must match the whole name, as the slack orb anchors them.
func patterns(v string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, p := range slackOrbList(v) {
		re, err := regexp.Compile("^(?:" + p + ")$")
		if err != nil {
			return nil, fmt.Errorf("%q is not a regular expression: %v", p, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func matchAny(res []*regexp.Regexp, s string) bool {
	if len(res) == 0 {
		return true
	}
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// parseReminder reads postmortem_reminder: "" or false is off, true is 3 days,
// otherwise a delay in config.Days' form ("3d", "1d12h", "36h").
func parseReminder(v string) (time.Duration, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "", "false", "off", "no", "0":
		return 0, nil
	case "true", "on", "yes":
		return defaultReminder, nil
	}
	d, err := config.ParseDays(v)
	if err != nil {
		return 0, fmt.Errorf("not a delay")
	}
	if d < time.Minute {
		return 0, fmt.Errorf("shorter than a minute: Slack schedules messages in the future only")
	}
	if d > maxReminder {
		return 0, fmt.Errorf("longer than 120d: Slack schedules messages at most 120 days ahead")
	}
	return d, nil
}

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
