package dora

import (
	"context"
	"testing"
	"time"
)

// The reference incident in DORA's terms, as CircleCI records it: deploy
// #1234 of the migration commit fails (its post-deploy check fails the
// workflow at 14:05), rollback #1236 goes back to #1233's release from
// 14:25 to 14:30 and — CircleCI records the branch head — carries the
// failed commit as its revision, and #1238 ships the fix at 15:38. The
// rollback deployed no change: the migration commit reached production
// successfully only with the fix, so its lead time ends at 15:38, not at
// the rollback that removed it.
func TestReferenceIncidentLeadTime(t *testing.T) {
	dir, h := gitRepo(t, []struct{ name, authored string }{
		{"release", "2026-11-20 09:00"}, {"migration", "2026-11-20 13:00"}, {"fix", "2026-11-20 15:00"},
	})
	day := func(hm string) time.Time { return ts("2026-11-20 " + hm) }
	deploys := []Deploy{
		{PipelineID: "p1233", Number: 1233, WorkflowID: "w1", Workflow: "deploy", Revision: h["release"], Created: day("11:00"), Finished: day("11:05"), Status: "success"},
		{PipelineID: "p1234", Number: 1234, WorkflowID: "w2", Workflow: "deploy", Revision: h["migration"], Created: day("14:00"), Finished: day("14:05"), Status: "failed"},
		{PipelineID: "p1236", Number: 1236, WorkflowID: "w3", Workflow: "deploy", Revision: h["migration"], Created: day("14:25"), Finished: day("14:30"), Status: "success", Rollback: true, RollbackOf: "p1234"},
		{PipelineID: "p1238", Number: 1238, WorkflowID: "w4", Workflow: "deploy", Revision: h["fix"], Created: day("15:30"), Finished: day("15:38"), Status: "success"},
	}
	changes, notes, err := Attribute(context.Background(), dir, deploys)
	if err != nil || len(notes) > 0 {
		t.Fatal(err, notes)
	}
	got := map[string]Change{}
	for _, c := range changes {
		got[c.Commit] = c
	}
	for name, want := range map[string]string{"migration": "p1238", "fix": "p1238"} {
		if c := got[h[name]]; c.PipelineID != want || !c.Deployed.Equal(day("15:38")) {
			t.Errorf("commit %s: first shipped by %s at %s, want %s at 15:38", name, c.PipelineID, c.Deployed.Format("15:04"), want)
		}
	}
	f := Compute(Input{Start: ts("2026-11-14 00:00"), End: ts("2026-11-21 00:00"), Deploys: deploys, Changes: changes})
	if f.Frequency.Deploys != 4 || f.ChangeFailRate.Count != 1 || f.Recovery.Recovered != 1 || f.Recovery.Median != 25*time.Minute || f.Rework.Count != 1 {
		t.Errorf("deploys %d, failed %d, recovered %d in %s, rework %d; want 4, 1, 1 in 25m, 1", f.Frequency.Deploys, f.ChangeFailRate.Count, f.Recovery.Recovered, f.Recovery.Median, f.Rework.Count)
	}
	if f.LeadTime.Changes != 2 {
		t.Errorf("lead time over %d changes, want 2", f.LeadTime.Changes)
	}
}

// The same incident with a canceled run, the fix's workflow rerun after a
// failure, and windows ending inside the incident.
func TestReferenceIncidentReruns(t *testing.T) {
	day := func(hm string) time.Time { return ts("2026-11-20 " + hm) }
	deploys := []Deploy{
		{PipelineID: "p1233", Number: 1233, WorkflowID: "w1", Workflow: "deploy", Created: day("11:00"), Finished: day("11:05"), Status: "success"},
		{PipelineID: "p1234", Number: 1234, WorkflowID: "w2c", Workflow: "deploy", Created: day("13:59"), Finished: day("14:00"), Status: "canceled"},
		{PipelineID: "p1234", Number: 1234, WorkflowID: "w2", Workflow: "deploy", Created: day("14:00"), Finished: day("14:05"), Status: "success"},
		{PipelineID: "p1236", Number: 1236, WorkflowID: "w3", Workflow: "deploy", Created: day("14:25"), Finished: day("14:30"), Status: "success", Rollback: true, RollbackOf: "p1234"},
		{PipelineID: "p1238", Number: 1238, WorkflowID: "w4", Workflow: "deploy", Created: day("15:30"), Finished: day("15:33"), Status: "failed"},
		{PipelineID: "p1238", Number: 1238, WorkflowID: "w5", Workflow: "deploy", Created: day("15:34"), Finished: day("15:38"), Status: "success"},
	}
	f := Compute(Input{Start: ts("2026-11-14 00:00"), End: ts("2026-11-21 00:00"), Deploys: deploys})
	// The canceled run is no deployment; the fix's failed run is one that
	// failed, recovered by its rerun.
	if f.Frequency.Deploys != 5 || f.Frequency.DeploymentDays != 1 || f.ChangeFailRate.Count != 2 || f.Recovery.Recovered != 2 ||
		f.Failures[0].Recovery != 25*time.Minute || f.Failures[0].RecoveredBy != "rollback" || f.Failures[1].Recovery != 5*time.Minute || f.Failures[1].RecoveredBy != "forward fix" {
		t.Errorf("deploys %d on %d days, failures %+v", f.Frequency.Deploys, f.Frequency.DeploymentDays, f.Failures)
	}
	// A window ending before the rollback: the failure is the window's,
	// its recovery after the window still measured, the rollback not
	// counted in it.
	f = Compute(Input{Start: ts("2026-11-14 00:00"), End: day("14:20"), Deploys: deploys})
	if f.Frequency.Deploys != 2 || f.ChangeFailRate.Count != 1 || f.Recovery.Median != 25*time.Minute || f.Rework.Count != 0 {
		t.Errorf("window to 14:20: deploys %d, failed %d, recovery %s, rework %d", f.Frequency.Deploys, f.ChangeFailRate.Count, f.Recovery.Median, f.Rework.Count)
	}
	// A window starting at the rollback's end: the rollback (ended at
	// the start) is in, the failure it recovered is not.
	f = Compute(Input{Start: day("14:30"), End: ts("2026-11-21 00:00"), Deploys: deploys})
	if f.Frequency.Deploys != 3 || f.ChangeFailRate.Count != 1 || f.Rework.Count != 2 {
		t.Errorf("window from 14:30: deploys %d, failed %d, rework %d", f.Frequency.Deploys, f.ChangeFailRate.Count, f.Rework.Count)
	}
}
