package circleci

import (
	"testing"
	"time"
)

func TestNewestRunsKeepsTheRerunOfEachName(t *testing.T) {
	at := func(m int) time.Time { return time.Date(2026, 11, 20, 14, m, 0, 0, time.UTC) }
	wfs := []*Workflow{
		{ID: "deploy-2", Name: "deploy", Status: StatusSuccess, CreatedAt: at(10)},
		{ID: "test-1", Name: "test", Status: StatusSuccess, CreatedAt: at(0)},
		{ID: "deploy-1", Name: "deploy", Status: StatusFailed, CreatedAt: at(0)},
		{ID: "test-2", Name: "test", Status: StatusFailed, CreatedAt: at(20)},
	}
	got := NewestRuns(wfs)
	if len(got) != 2 || got[0].ID != "deploy-2" || got[1].ID != "test-2" {
		var ids []string
		for _, w := range got {
			ids = append(ids, w.ID)
		}
		t.Fatalf("NewestRuns = %v, want [deploy-2 test-2] (the newest of each name, in listed order)", ids)
	}
}
