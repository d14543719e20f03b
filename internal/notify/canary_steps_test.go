package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// A progressive rollout's notice lists every step with its figures, and a
// shadow run says its verdict was not enforced.
func TestCanaryNoticeShowsSteps(t *testing.T) {
	at := func(min int, name string, fig events.Canary, extra map[string]any) events.Event {
		e := events.Event{Verb: "canary", Event: name, Time: t0.Add(time.Duration(min) * time.Minute), PipelineID: jobEnvVars()["CIRCLE_PIPELINE_ID"]}
		e.SetFigures(fig)
		for k, v := range extra {
			e.Figures[k] = v
		}
		return e
	}
	lat := map[string]any{"p95_ms": 180.0}
	run := func(mode string, last string) []events.Event {
		return []events.Event{
			at(-9, events.CanaryStarted, events.Canary{StepsPlanned: 3, Mode: mode}, nil),
			// A step of an earlier run must not be listed.
			at(-8, events.CanaryStep, events.Canary{Step: 9, Weight: 5, Verdict: "pass", Samples: 10}, nil),
			at(-8, events.CanaryStarted, events.Canary{StepsPlanned: 3, Mode: mode}, nil),
			at(-7, events.CanaryStep, events.Canary{Step: 1, Weight: 10, Verdict: "pass", ErrorRate: 0.004, Threshold: 0.02, Samples: 980, LatencyThresholdMS: 300, LatencyQuantile: "p95"}, lat),
			at(-5, events.CanaryStep, events.Canary{Step: 2, Weight: 50, Verdict: "fail", ErrorRate: 0.2, Threshold: 0.02, Samples: 40}, nil),
			at(-4, last, events.Canary{Step: 2, Weight: 50, Verdict: "fail", ErrorRate: 0.2, Threshold: 0.02, Samples: 40, Mode: mode, RolledBack: mode == "enforce"}, nil),
		}
	}
	job := jobenv.FromEnv(config.MapEnv(jobEnvVars()))

	f := &Facts{Job: job, Now: t0}
	factsFrom(f, run("enforce", events.CanaryFailed), job.PipelineID)
	m, _ := Render(CanaryFailed, f)
	text := blockText(m.Blocks)
	mustContain(t, "steps", text, "step 1 (10%): pass, error rate 0.4% ≤ 2%, p95 180 ms ≤ 300 ms (980 samples)",
		"step 2 (50%): fail, error rate 20% &gt; 2% (40 samples)", "weight set back to 0%", "Canary failed")
	if len(f.Canary.Steps) != 2 {
		t.Errorf("steps %+v", f.Canary.Steps)
	}

	// A step whose set_weight failed was never judged: the notice says
	// what set_weight said, not figures it does not have.
	evs := run("enforce", events.CanaryFailed)
	evs[len(evs)-2] = at(-5, events.CanaryStep, events.Canary{Step: 2, Weight: 50, Verdict: "fail", DecidedBy: "set_weight", Reason: "set_weight 50% failed: exit status 1"}, nil)
	f = &Facts{Job: job, Now: t0}
	factsFrom(f, evs, job.PipelineID)
	m, _ = Render(CanaryFailed, f)
	text = blockText(m.Blocks)
	mustContain(t, "set_weight failed", text, "step 2 (50%): set_weight 50% failed: exit status 1", "weight set back to 0%")
	if strings.Contains(text, "step 2 (50%): fail, error rate") {
		t.Errorf("a step never judged is shown with figures:\n%s", text)
	}

	f = &Facts{Job: job, Now: t0}
	factsFrom(f, run("shadow", events.CanaryFailed), job.PipelineID)
	m, _ = Render(CanaryFailed, f)
	mustContain(t, "shadow", blockText(m.Blocks), "Canary failed (shadow mode)", "the verdict was not enforced", "shadow analysis, not enforced")
}

// What happens next follows from the canary's events: pmguard set the
// weight back to 0, could not, or (shadow mode) took no action; "no
// rollback has started yet" is for a failure nobody has acted on.
func TestCanaryNoticeSaysWhatHappensNext(t *testing.T) {
	job := jobenv.FromEnv(config.MapEnv(jobEnvVars()))
	verdict := func(fig events.Canary) *Facts {
		e := events.Event{Verb: "canary", Event: events.CanaryFailed, Time: t0, PipelineID: job.PipelineID}
		fig.Verdict, fig.ErrorRate, fig.Threshold, fig.Samples = "fail", 0.2, 0.02, 40
		e.SetFigures(fig)
		f := &Facts{Job: job, Now: t0}
		factsFrom(f, []events.Event{e}, job.PipelineID)
		return f
	}
	next := func(f *Facts) string {
		m, _ := Render(CanaryFailed, f)
		for _, b := range m.Blocks {
			if txt := blockText([]map[string]any{b}); strings.Contains(txt, "What happens next") {
				return txt
			}
		}
		t.Fatalf("no What happens next section:\n%s", blockText(m.Blocks))
		return ""
	}
	const none = "No rollback has started yet"

	got := next(verdict(events.Canary{Step: 2, Weight: 50, StepsPlanned: 3, Mode: "enforce", RolledBack: true}))
	mustContain(t, "rolled back", got, "weight is back at 0%", "rollback steps (`when: on_fail`) run next")
	if strings.Contains(got, none) {
		t.Errorf("the notice says no rollback started after pmguard set the weight to 0:\n%s", got)
	}

	got = next(verdict(events.Canary{Step: 2, Weight: 50, StepsPlanned: 3, Mode: "enforce", RollbackError: "set_weight 0% failed: exit status 7"}))
	mustContain(t, "rollback failed", got, "Setting the canary's weight back to 0% failed: set_weight 0% failed: exit status 7", "act now")

	for _, fig := range []events.Canary{{Mode: "shadow"}, {Step: 2, Weight: 50, StepsPlanned: 3, Mode: "shadow"}} {
		got = next(verdict(fig))
		mustContain(t, "shadow", got, "No action was taken (shadow mode)")
		if strings.Contains(got, none) {
			t.Errorf("a shadow notice says no rollback started yet:\n%s", got)
		}
	}

	// on_inconclusive hold posts a held verdict and a pass as what they are.
	e := events.Event{Verb: "canary", Event: events.CanaryInconclusive, Time: t0, PipelineID: job.PipelineID}
	e.SetFigures(events.Canary{Verdict: "inconclusive", Step: 1, Weight: 10, StepsPlanned: 3, Mode: "enforce", Held: true, Samples: 12})
	f := &Facts{Job: job, Now: t0}
	factsFrom(f, []events.Event{e}, job.PipelineID)
	m, _ := Render(CanaryFailed, f)
	mustContain(t, "held", blockText(m.Blocks), "Canary held for approval", "The canary stays at 10%, not promoted: the approval job decides", "held, waiting for approval")
	e = events.Event{Verb: "canary", Event: events.CanaryPassed, Time: t0, PipelineID: job.PipelineID}
	e.SetFigures(events.Canary{Verdict: "pass", ErrorRate: 0.001, Threshold: 0.02, Samples: 900, Mode: "enforce"})
	f = &Facts{Job: job, Now: t0}
	factsFrom(f, []events.Event{e}, job.PipelineID)
	m, _ = Render(CanaryFailed, f)
	if text := blockText(m.Blocks); !strings.Contains(text, "Canary passed") || strings.Contains(text, "Canary failed") {
		t.Errorf("a pass posted as:\n%s", text)
	}

	// A canary without steps that pmguard did not roll back: nobody has
	// acted yet.
	mustContain(t, "no steps", next(verdict(events.Canary{Mode: "enforce"})), none)
}
