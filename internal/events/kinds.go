package events

// The event names pmguard writes. They are part of the event log contract:
// readers (notify, postmortem, dora) and other people's tools match on them,
// so a name is never changed once released.
const (
	HealthStarted  = "health_started"
	EndpointPassed = "endpoint_passed"
	EndpointFailed = "endpoint_failed"
	HealthPassed   = "health_passed"
	HealthFailed   = "health_failed"

	CanaryStarted      = "canary_started"
	CanaryStep         = "canary_step"
	CanaryWeightSet    = "canary_weight_set"
	CanaryPassed       = "canary_passed"
	CanaryFailed       = "canary_failed"
	CanaryInconclusive = "canary_inconclusive"
	CanaryPromotion    = "canary_promotion"

	RollbackInitiated = "rollback_initiated"
	RollbackProgress  = "rollback_progress"
	RollbackCompleted = "rollback_completed"
	RollbackFailed    = "rollback_failed"
	RollbackSkipped   = "rollback_skipped"

	Notified                    = "notified"
	NotifyFailed                = "notify_failed"
	IncidentChannelCreated      = "incident_channel_created"
	PostmortemReminderScheduled = "postmortem_reminder_scheduled"

	PostmortemWritten = "postmortem_written"
	DoraComputed      = "dora_computed"
	MigrationOK       = "migration_ok"
	MigrationBlocked  = "migration_blocked"

	FollowupsSynced   = "followups_synced"
	FollowupsReported = "followups_reported"
)

// The figures of each kind of event. Writers fill one of these and pass it
// to Event.SetFigures; readers call Event.Decode with the same type, so the
// key names live here only. The json tag is the key written; an alias tag
// lists other keys accepted when reading (earlier releases, other tools).

// HealthRun is the figures of health_started, health_passed and health_failed.
type HealthRun struct {
	Endpoints        int      `json:"endpoints"`
	Passed           int      `json:"passed,omitempty"`
	Failed           int      `json:"failed,omitempty"`
	ElapsedS         float64  `json:"elapsed_s,omitempty"`
	FailingEndpoints []string `json:"failing_endpoints,omitempty"`
}

// HealthEndpoint is the figures of endpoint_passed and endpoint_failed.
type HealthEndpoint struct {
	Attempts     int     `json:"attempts"`
	ElapsedS     float64 `json:"elapsed_s"`
	ExpectStatus string  `json:"expect_status,omitempty"`
	Status       int     `json:"status"`
	LatencyMS    float64 `json:"latency_ms"`
}

// Rollback is the figures of the rollback_* events.
type Rollback struct {
	Reason                 string  `json:"reason,omitempty"`
	Strategy               string  `json:"strategy,omitempty"`
	TargetVersion          string  `json:"target_version,omitempty" alias:"target"`
	TargetPipelineNumber   int     `json:"target_pipeline_number,omitempty"`
	TargetRevision         string  `json:"target_revision,omitempty"`
	RollbackPipelineID     string  `json:"rollback_pipeline_id,omitempty" alias:"pipeline_id"`
	RollbackPipelineNumber int     `json:"rollback_pipeline_number,omitempty" alias:"pipeline_number"`
	RollbackWorkflowID     string  `json:"rollback_workflow_id,omitempty"`
	RollbackURL            string  `json:"rollback_url,omitempty" alias:"pipeline_url"`
	FailedPipelineNumber   int     `json:"failed_pipeline_number,omitempty"`
	FailedPipelineID       string  `json:"failed_pipeline_id,omitempty"`
	PagesSearched          int     `json:"pages_searched,omitempty"`
	APICalls               int     `json:"api_calls,omitempty"`
	SecondsToTrigger       float64 `json:"seconds_to_trigger,omitempty"`
	WaitSeconds            float64 `json:"wait_seconds,omitempty"`
	Joined                 bool    `json:"joined,omitempty"`
	Status                 string  `json:"status,omitempty"`
	// Action is what this caller did: started, joined, or cancelled (it
	// started a duplicate, cancelled it and joined the earlier rollback).
	Action                  string `json:"action,omitempty"`
	CancelledPipelineID     string `json:"cancelled_pipeline_id,omitempty"`
	CancelledPipelineNumber int    `json:"cancelled_pipeline_number,omitempty"`
	CancelledWorkflowID     string `json:"cancelled_workflow_id,omitempty"`
	// Attempt counts the rollbacks of the failed pipeline, this one included.
	Attempt int `json:"attempt,omitempty"`
	// SchemaCheck is the schema check's verdict on the target: ok, warn,
	// fail, skipped; SchemaFindings say what the target's code cannot serve.
	SchemaCheck    string   `json:"schema_check,omitempty"`
	SchemaFindings []string `json:"schema_findings,omitempty"`
	// RollbackSeconds is how long the rollback ran (created to finished);
	// RestoreSeconds is from the failed pipeline's start to the rollback's
	// success: the time to restore.
	RollbackSeconds float64 `json:"rollback_seconds,omitempty"`
	RestoreSeconds  float64 `json:"restore_seconds,omitempty"`
}

// Notice is the figures of notified, notify_failed, incident_channel_created
// and postmortem_reminder_scheduled.
type Notice struct {
	Channel            string `json:"channel,omitempty"`
	ChannelName        string `json:"channel_name,omitempty"`
	TS                 string `json:"ts,omitempty"`
	ThreadTS           string `json:"thread_ts,omitempty"`
	Template           string `json:"template,omitempty"`
	Parent             bool   `json:"parent,omitempty"`
	ParentTemplate     string `json:"parent_template,omitempty"` // a reply's: the template of the thread's first notice
	IncidentChannel    bool   `json:"incident_channel,omitempty"`
	Webhook            bool   `json:"webhook,omitempty"`
	Error              string `json:"error,omitempty"`
	Method             string `json:"method,omitempty"`
	ScheduledMessageID string `json:"scheduled_message_id,omitempty"`
	PostAt             string `json:"post_at,omitempty"`
}

// Migrations is the figures of migration_ok and migration_blocked.
type Migrations struct {
	Files      int      `json:"files"`
	Blocking   int      `json:"blocking"`
	Warnings   int      `json:"warnings"`
	Allowed    int      `json:"allowed"`
	BaseCommit string   `json:"base_commit,omitempty"`
	HeadCommit string   `json:"head_commit,omitempty"`
	Rules      []string `json:"rules,omitempty"`
}

// Dora is the figures of dora_computed.
type Dora struct {
	Deploys          int     `json:"deploys"`
	PerWeek          float64 `json:"per_week"`
	ChangeFailRate   float64 `json:"change_fail_rate"`
	ReworkRate       float64 `json:"rework_rate"`
	LeadTimeMedianS  float64 `json:"lead_time_median_s"`
	RecoveryMedianS  float64 `json:"recovery_median_s"`
	Level            string  `json:"level,omitempty"`
	DeployFrequency  string  `json:"deploy_frequency,omitempty"`
	WindowDays       float64 `json:"window_days,omitempty"`
	FailedDeploys    int     `json:"failed_deploys,omitempty"`
	RecoveredDeploys int     `json:"recovered_deploys,omitempty"`
}

// Postmortem is the figures of postmortem_written.
type Postmortem struct {
	TimelineEntries int     `json:"timeline_entries"`
	TimeToDetectS   float64 `json:"time_to_detect_s,omitempty"`
	TimeToMitigateS float64 `json:"time_to_mitigate_s,omitempty"`
	TimeToRestoreS  float64 `json:"time_to_restore_s,omitempty"`
}

// Followups is the figures of followups_synced and followups_reported.
type Followups struct {
	Tracker   string `json:"tracker"`
	Items     int    `json:"items"`
	Created   int    `json:"created,omitempty"`
	Updated   int    `json:"updated,omitempty"`
	Unchanged int    `json:"unchanged,omitempty"`
	Failed    int    `json:"failed,omitempty"`
	Overdue   int    `json:"overdue,omitempty"`
	DueSoon   int    `json:"due_soon,omitempty"`
}

// CanaryWeight is the figures of canary_weight_set: the weight set_weight
// set, in percent, and the step it was set for; step 0 with weight 0 is the
// rollback. Both are always written. (Earlier releases wrote this event with
// Canary's figures, which left both out for the rollback: they read as 0,
// which is what they were.)
type CanaryWeight struct {
	Step   int     `json:"step"`
	Weight float64 `json:"weight"`
}

// Canary is the figures of canary_started and the canary verdicts. Latency
// figures are keyed by percentile ("p95_ms", "baseline_p95_ms"): read them
// with Figures.Number.
type Canary struct {
	Source             string  `json:"source,omitempty"`
	Verdict            string  `json:"verdict,omitempty"`
	Step               int     `json:"step,omitempty"`
	Weight             float64 `json:"weight,omitempty"`
	Threshold          float64 `json:"threshold,omitempty" alias:"error_threshold"`
	HealthyErrorRate   float64 `json:"healthy_error_rate,omitempty"`
	Alpha              float64 `json:"alpha,omitempty"`
	Beta               float64 `json:"beta,omitempty"`
	MaxDurationS       float64 `json:"max_duration_s,omitempty"`
	Percentile         string  `json:"percentile,omitempty"`
	LatencyThresholdMS float64 `json:"latency_threshold_ms,omitempty"`
	LatencyQuantile    string  `json:"latency_quantile,omitempty"`
	Percentage         float64 `json:"percentage,omitempty"`
	Rate               float64 `json:"rate,omitempty"`
	IntervalS          float64 `json:"interval_s,omitempty"`
	ErrorRate          float64 `json:"error_rate"`
	ErrorRateCILow     float64 `json:"error_rate_ci_low,omitempty"`
	ErrorRateCIHigh    float64 `json:"error_rate_ci_high,omitempty"`
	Samples            int     `json:"samples"`
	Errors             int     `json:"errors"`
	ElapsedS           float64 `json:"elapsed_s"`
	Reason             string  `json:"reason,omitempty"`
	DecidedBy          string  `json:"decided_by,omitempty"`
	BaselineErrorRate  float64 `json:"baseline_error_rate,omitempty"`
	BaselineSamples    int     `json:"baseline_samples,omitempty"`
	// Progressive delivery: Step and Weight above are the step an event is
	// about (step 0, weight 0: the rollback).
	StepsPlanned int    `json:"steps_planned,omitempty"`
	Mode         string `json:"mode,omitempty"` // enforce or shadow
	RolledBack   bool   `json:"rolled_back,omitempty"`
	// RollbackError says why setting the weight back to 0 failed.
	RollbackError string `json:"rollback_error,omitempty"`
	Held          bool   `json:"held,omitempty"` // inconclusive, left to an approval
	// DeployName is the release plan's name and DeployMarker the status
	// the run left it at (RUNNING: open, for the promotion to close).
	DeployName   string `json:"deploy_name,omitempty"`
	DeployMarker string `json:"deploy_marker,omitempty"`
	// Passed: the job goes on to its promotion (a pass, an inconclusive
	// with on_inconclusive pass or hold, any verdict in shadow mode).
	Passed bool `json:"passed,omitempty"`
}
