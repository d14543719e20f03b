package rollback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/migrations"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are the rollback verb's flags and PMGUARD_ROLLBACK_* env vars.
type Settings struct {
	config.Shared
	Version        string          `env:"VERSION, default=previous" flag:"version" usage:"what to roll back to" form:"previous, a commit SHA, tag:<tag> or a tag, pipeline:<number>, or <pipeline parameter>=<value>"`
	DeployWorkflow string          `env:"DEPLOY_WORKFLOW" flag:"deploy-workflow" usage:"the deploy workflow's name or glob (default: the current workflow's name)" form:"a workflow name or a glob such as deploy-*"`
	Strategy       string          `env:"STRATEGY, default=auto" flag:"strategy" usage:"how to roll back" form:"auto, rollback_pipeline, definition, trigger or rerun"`
	DefinitionID   string          `env:"DEFINITION_ID" flag:"definition-id" usage:"pipeline definition to run (strategy definition)" form:"a pipeline definition id (UUID)"`
	Parameters     string          `env:"PARAMETERS" flag:"parameters" usage:"extra pipeline parameters for the rollback pipeline" form:"a JSON object such as {\"env\":\"prod\"}"`
	Component      string          `env:"COMPONENT" flag:"component" usage:"deploy-markers component (default: the project's only one)"`
	Environment    string          `env:"ENVIRONMENT" flag:"environment" usage:"deploy-markers environment (default: the only one)"`
	TokenEnv       config.EnvName  `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"name of the env var holding the CircleCI API token"`
	Wait           bool            `env:"WAIT" flag:"wait" usage:"wait for the rollback to finish and exit on its outcome"`
	WaitTimeout    config.Duration `env:"WAIT_TIMEOUT, default=30m" flag:"wait-timeout" usage:"how long to wait for the rollback"`
	DryRun         bool            `env:"DRY_RUN" flag:"dry-run" usage:"print the requests that would start the rollback; send no write"`
	ReleaseMarkers bool            `env:"RELEASE_MARKERS" flag:"release-markers" usage:"record the rollback with circleci run release plan --rollback when the circleci CLI is present"`
	RollbackOf     string          `env:"ROLLBACK_OF" flag:"rollback-of" usage:"the running pipeline's pmguard_rollback_of parameter; set means this is a rollback and starts none"`
	ProjectSlug    string          `env:"PROJECT_SLUG" flag:"project-slug" usage:"project slug (default: from CIRCLE_PROJECT_USERNAME, CIRCLE_PROJECT_REPONAME and CIRCLE_BUILD_URL)" form:"vcs/org/repo such as gh/acme/api, or circleci/<org id>/<project id>"`
	PipelineID     string          `env:"PIPELINE_ID" flag:"pipeline-id" usage:"the failed pipeline (default: CIRCLE_PIPELINE_ID, else the current workflow's pipeline)"`
	WorkflowID     string          `env:"WORKFLOW_ID" flag:"workflow-id" usage:"the current workflow (default: CIRCLE_WORKFLOW_ID)"`
	MaxPages       config.Count    `env:"MAX_PAGES, default=10" flag:"max-pages" usage:"pages of pipelines to search for the previous good deploy (and of deploy-marker versions to read)" form:"a whole number from 1 to 1000"`
	SchemaCheck    string          `env:"SCHEMA_CHECK, default=warn" flag:"schema-check" usage:"before rolling back, check the target's code against the migrations the failed deploy ran: warn, fail (refuse to roll back, exit 1) or off" form:"warn, fail or off"`
	Migrations     config.List     `env:"MIGRATIONS, default=db/migrations/**/*.sql" flag:"migrations" usage:"globs of migration files for the schema check, as pmguard migrations reads them (** matches any directories); add db/migrate/*.rb for Rails migrations"`
	Repo           string          `env:"REPO, default=." flag:"repo" usage:"the git repository the schema check reads (the job's checkout)"`
	CacheDir       string          `env:"PMGUARD_CACHE_DIR" flag:"cache-dir" usage:"directory for the schema check's WebAssembly parser's compiled code, kept across runs (default: the user cache directory's pmguard; ignored by builds with the cgo parser; unwritable: no cache)"`
}

// What is not a setting: the pace of status polls and how many reads run
// at once.
const (
	pollMin = 2 * time.Second
	pollMax = 30 * time.Second
	// readConcurrency reads: far below CircleCI's per-token rate limits, and
	// a 20-pipeline page is read in two round trips.
	readConcurrency = 10
	// listLag is the longest time CircleCI's pipeline list is assumed to
	// take to show a new pipeline (seconds, in practice); the exactly-once
	// step waits up to twice that for a rollback to show.
	listLag    = 10 * time.Second
	settlePoll = time.Second
)

// New loads and checks the rollback settings (bad input is found here,
// before any request) and builds the rollback's dependencies from d: the
// CircleCI client (in dry-run mode when asked), the event log and the clock.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	var s Settings
	set, err := d.Load(ctx, "rollback", args, &s)
	if err != nil {
		return nil, err
	}
	o, err := s.options(set, d.Job)
	if err != nil {
		return nil, err
	}
	var dryRun func(circleci.Request)
	if o.DryRun {
		dryRun = printWrite(d.Stdout, d.Redactor)
	}
	if o.Client, err = d.CircleCI(string(s.TokenEnv), httpx.Options{}, dryRun); err != nil {
		return nil, err
	}
	if o.Events, err = d.Events(s.EventsFile); err != nil {
		return nil, err
	}
	o.Out, o.Redactor, o.Now, o.Sleep = d.Stdout, d.Redactor, d.Now, d.Sleep
	o.CLIPath, o.CLIEnv, o.JobName = deploymarker.JobPath(d), d.Env, d.Job.JobName
	o.PollMin, o.PollMax, o.Concurrency = pollMin, pollMax, readConcurrency
	o.ListLag, o.SettlePoll = listLag, settlePoll
	o.JobNumber, _ = strconv.ParseInt(d.Job.BuildNum, 10, 64)
	o.NodeIndex, _ = strconv.Atoi(strings.TrimSpace(config.Get(d.Env, "CIRCLE_NODE_INDEX")))
	return o, nil
}

// printWrite shows a write a dry run does not send.
func printWrite(out io.Writer, red *httpx.Redactor) func(circleci.Request) {
	return func(r circleci.Request) {
		fmt.Fprintf(out, "Would send: %s %s\n  Circle-Token: [REDACTED]\n", r.Method, r.Path)
		if len(r.Body) > 0 {
			fmt.Fprintf(out, "  %s\n", red.Redact(string(r.Body)))
		}
	}
}

// options checks the settings and turns them into the inputs of Options,
// filling the project and pipeline from the CircleCI job environment.
func (s *Settings) options(set *config.Set, job jobenv.Job) (*Options, error) {
	// The deploy marker's `circleci` command line carries both.
	if err := set.OneLine(&s.Component, &s.Environment); err != nil {
		return nil, err
	}
	o := &Options{
		DeployWorkflow: s.DeployWorkflow, Strategy: s.Strategy, DefinitionID: s.DefinitionID,
		Component: s.Component, Environment: s.Environment,
		Wait: s.Wait, WaitTimeout: s.WaitTimeout.Duration, DryRun: s.DryRun, ReleaseMarkers: s.ReleaseMarkers,
		RollbackOf: s.RollbackOf, ProjectSlug: strings.Trim(s.ProjectSlug, "/"),
		PipelineID: s.PipelineID, WorkflowID: s.WorkflowID, MaxPages: int(s.MaxPages),
	}
	o.ProjectSlug = or(o.ProjectSlug, job.ProjectSlug())
	o.PipelineID = or(o.PipelineID, job.PipelineID)
	o.WorkflowID = or(o.WorkflowID, job.WorkflowID)
	v, err := ParseVersion(s.Version)
	if err != nil {
		cause := "not a version"
		var ve *VersionError
		if errors.As(err, &ve) {
			cause = ve.Cause
		}
		return nil, set.Invalid(&s.Version, s.Version, cause, VersionForm)
	}
	o.Version = v
	o.BadVersion = func(cause string) error { return set.Invalid(&s.Version, s.Version, cause, VersionForm) }
	if s.DeployWorkflow != "" {
		if _, err := path.Match(s.DeployWorkflow, ""); err != nil {
			return nil, set.Invalid(&s.DeployWorkflow, s.DeployWorkflow, "not a valid glob (a [ without its ], or a trailing \\)", "")
		}
	}
	for _, g := range s.Migrations {
		if !migrations.ValidGlob(g) {
			return nil, set.Invalid(&s.Migrations, g, "not a valid glob (a [ without its ], or a trailing \\)", "globs such as db/migrations/**/*.sql, comma-separated")
		}
	}
	if err := s.checkStrategy(set, o.ProjectSlug); err != nil {
		return nil, err
	}
	if o.Parameters, err = s.parameters(set); err != nil {
		return nil, err
	}
	switch s.SchemaCheck {
	case SchemaOff:
	case SchemaWarn, SchemaFail:
		o.Schema = &SchemaCheck{Mode: s.SchemaCheck, Git: migrations.ExecGit{Dir: s.Repo}, Migrations: s.Migrations, CacheDir: migrations.CacheDir(s.CacheDir)}
	default:
		return nil, set.Invalid(&s.SchemaCheck, s.SchemaCheck, "not a schema check mode", "")
	}
	if s.Wait && s.WaitTimeout.Duration <= 0 {
		return nil, set.Invalid(&s.WaitTimeout, s.WaitTimeout.String(), "waiting needs a wait_timeout above 0", "")
	}
	if s.MaxPages < 1 || s.MaxPages > circleci.PageLimit {
		return nil, set.Invalid(&s.MaxPages, strconv.Itoa(int(s.MaxPages)), "out of range", "")
	}
	return o, s.checkPipeline(set, o)
}

// uuidRe is the form of CircleCI's ids (a pipeline definition's).
var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func or(v, fallback string) string {
	if v == "" {
		return fallback
	}
	return v
}

func (s *Settings) checkStrategy(set *config.Set, slug string) error {
	if !slices.Contains(Strategies, s.Strategy) {
		return set.Invalid(&s.Strategy, s.Strategy, "unknown strategy", "")
	}
	if s.Strategy == StrategyDefinition && s.DefinitionID == "" {
		return set.Required(&s.DefinitionID, "strategy definition needs a pipeline definition id", "")
	}
	if s.DefinitionID != "" && !uuidRe.MatchString(s.DefinitionID) {
		return set.Invalid(&s.DefinitionID, s.DefinitionID, "not a UUID", "a pipeline definition id, a UUID such as 5034460f-c7c4-4c43-9457-de07e2029e7b")
	}
	if s.Strategy == StrategyTrigger && slug != "" && !circleci.SupportsLegacyTrigger(slug) {
		return set.Invalid(&s.Strategy, s.Strategy, "the legacy trigger serves GitHub OAuth (gh/) and Bitbucket (bb/) projects only; "+slug+" needs strategy definition", "")
	}
	return nil
}

// parameters parses the extra pipeline parameters: a JSON object of
// strings, numbers and booleans that leaves pmguard's own three alone.
func (s *Settings) parameters(set *config.Set) (map[string]any, error) {
	if s.Parameters == "" {
		return nil, nil
	}
	var params map[string]any
	if err := json.Unmarshal([]byte(s.Parameters), &params); err != nil || params == nil {
		return nil, set.Invalid(&s.Parameters, s.Parameters, "not a JSON object", "")
	}
	for k, v := range params {
		if k == ParamRollback || k == ParamTargetVersion || k == ParamRollbackOf {
			return nil, set.Invalid(&s.Parameters, s.Parameters, k+" is set by pmguard", "")
		}
		switch v.(type) {
		case string, bool, float64:
		default:
			return nil, set.Invalid(&s.Parameters, s.Parameters, k+": pipeline parameters are strings, numbers or booleans", "")
		}
	}
	return params, nil
}

// checkPipeline checks that the project, the failed pipeline and the deploy
// workflow are known.
func (s *Settings) checkPipeline(set *config.Set, o *Options) error {
	if o.ProjectSlug == "" {
		return set.Invalid(&s.ProjectSlug, "", "no project: outside a CircleCI job, name it", "")
	}
	if strings.Count(o.ProjectSlug, "/") != 2 {
		return set.Invalid(&s.ProjectSlug, o.ProjectSlug, "a project slug has three parts", "")
	}
	if o.PipelineID == "" && o.WorkflowID == "" {
		return set.Invalid(&s.PipelineID, "", "no failed pipeline: outside a CircleCI job, name the pipeline or the workflow (--workflow-id)", "a pipeline id (a UUID, CircleCI's pipeline.id)")
	}
	if o.DeployWorkflow == "" && o.WorkflowID == "" {
		return set.Invalid(&s.DeployWorkflow, "", "not set, and there is no current workflow to take its name from", "")
	}
	return nil
}
