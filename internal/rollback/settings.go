package rollback

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// Settings are the rollback verb's flags and PMGUARD_ROLLBACK_* env vars.
type Settings struct {
	config.Shared
	Version        string          `env:"VERSION, default=previous" flag:"version" usage:"what to roll back to" form:"previous, a commit SHA, tag:<tag> or a tag, or <pipeline parameter>=<value>"`
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
	MaxPages       config.Count    `env:"MAX_PAGES, default=10" flag:"max-pages" usage:"pages of pipelines to search for the previous good deploy"`
}

// FromSettings checks the settings (no network) and turns them into the
// inputs of Options, filling the project and pipeline from the CircleCI job
// environment.
func FromSettings(s *Settings, set *config.Set, env config.Env) (Options, error) {
	job := jobenv.FromEnv(env)
	o := Options{
		Version: strings.TrimSpace(s.Version), DeployWorkflow: strings.TrimSpace(s.DeployWorkflow),
		Strategy: strings.TrimSpace(s.Strategy), DefinitionID: strings.TrimSpace(s.DefinitionID),
		Component: s.Component, Environment: s.Environment,
		Wait: s.Wait, WaitTimeout: s.WaitTimeout.Duration, DryRun: s.DryRun, ReleaseMarkers: s.ReleaseMarkers,
		RollbackOf:  strings.TrimSpace(s.RollbackOf),
		ProjectSlug: strings.Trim(strings.TrimSpace(s.ProjectSlug), "/"),
		PipelineID:  strings.TrimSpace(s.PipelineID), WorkflowID: strings.TrimSpace(s.WorkflowID),
		MaxPages: int(s.MaxPages),
	}
	if o.ProjectSlug == "" {
		o.ProjectSlug = job.ProjectSlug()
	}
	if o.PipelineID == "" {
		o.PipelineID = job.PipelineID
	}
	if o.WorkflowID == "" {
		o.WorkflowID = job.WorkflowID
	}
	if _, err := ParseVersion(o.Version); err != nil {
		return o, set.Invalid("Version", o.Version, "not a version", VersionForm)
	}
	switch o.Strategy {
	case StrategyAuto, StrategyRollbackPipeline, StrategyDefinition, StrategyTrigger, StrategyRerun:
	default:
		return o, set.Invalid("Strategy", o.Strategy, "unknown strategy", "")
	}
	if o.Strategy == StrategyDefinition && o.DefinitionID == "" {
		return o, set.Invalid("DefinitionID", "", "strategy definition needs a pipeline definition id", "")
	}
	if p := strings.TrimSpace(s.Parameters); p != "" {
		if err := json.Unmarshal([]byte(p), &o.Parameters); err != nil || o.Parameters == nil {
			return o, set.Invalid("Parameters", p, "not a JSON object", "")
		}
		for k, v := range o.Parameters {
			if k == ParamRollback || k == ParamTargetVersion || k == ParamRollbackOf {
				return o, set.Invalid("Parameters", p, k+" is set by pmguard", "")
			}
			switch v.(type) {
			case string, bool, float64:
			default:
				return o, set.Invalid("Parameters", p, fmt.Sprintf("%s: pipeline parameters are strings, numbers or booleans", k), "")
			}
		}
	}
	if o.ProjectSlug == "" {
		return o, set.Invalid("ProjectSlug", "", "no project: outside a CircleCI job, name it", "")
	}
	if strings.Count(o.ProjectSlug, "/") != 2 {
		return o, set.Invalid("ProjectSlug", o.ProjectSlug, "a project slug has three parts", "")
	}
	if o.Strategy == StrategyTrigger && !circleci.SupportsLegacyTrigger(o.ProjectSlug) {
		return o, set.Invalid("Strategy", o.Strategy, "the legacy trigger serves GitHub OAuth (gh/) and Bitbucket (bb/) projects only; use definition", "")
	}
	if o.PipelineID == "" && o.WorkflowID == "" {
		return o, set.Invalid("PipelineID", "", "no failed pipeline: outside a CircleCI job, name the pipeline or the workflow (--workflow-id)", "")
	}
	return o, nil
}
