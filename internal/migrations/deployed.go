package migrations

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
)

// BaseDeployed is the base value that means "the commit now in production".
const BaseDeployed = "deployed"

// DefaultDeployEvents are the events whose commit is taken as deployed: a
// deploy job that ran pmguard health or canary after deploying wrote them,
// stamped with the commit it deployed (CIRCLE_SHA1).
var DefaultDeployEvents = []string{events.HealthPassed, events.CanaryPassed}

// Deployed is the event the deployed commit was taken from.
type Deployed struct {
	Commit string    `json:"commit"`
	Event  string    `json:"event"`
	Time   time.Time `json:"time"`
	JobURL string    `json:"job_url,omitempty"`
	Branch string    `json:"branch,omitempty"`
}

// deployedCommit finds the newest deploy event with a commit in the event
// logs at paths (files, or directories of *.jsonl); lines that are not
// events are reported to warn.
func deployedCommit(paths, names []string, warn io.Writer) (Deployed, error) {
	if len(paths) == 0 {
		return Deployed{}, fmt.Errorf("%q needs the event log of the production deploy: set PMGUARD_EVENTS_FILE (or deployed_log) to it, or set base to a git revision such as origin/main or the deployed SHA from a pipeline parameter", BaseDeployed)
	}
	evs, skipped, err := events.ReadFiles(paths...)
	if skipped != nil {
		fmt.Fprintf(warn, "pmguard migrations: warning: %v\n", skipped)
	}
	if err != nil && len(evs) == 0 {
		return Deployed{}, fmt.Errorf("%q: reading the event log: %v", BaseDeployed, err)
	}
	found := events.Filter(evs, names...)
	for i := len(found) - 1; i >= 0; i-- {
		e := found[i]
		if e.Commit != "" {
			return Deployed{Commit: e.Commit, Event: e.Event, Time: e.Time, JobURL: e.JobURL, Branch: e.Branch}, nil
		}
	}
	return Deployed{}, fmt.Errorf("%q: no %s event with a commit in %s; set base to a git revision instead (origin/main, or the deployed SHA from a pipeline parameter)",
		BaseDeployed, strings.Join(names, " or "), strings.Join(paths, ", "))
}

func (d Deployed) String() string {
	return fmt.Sprintf("%s event of %s", d.Event, d.Time.UTC().Format(time.RFC3339))
}
