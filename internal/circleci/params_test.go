package circleci

import "testing"

// Trigger parameters arrive typed (JSON) or as text; every reader gets the
// same answer from StringParam and BoolParam.
func TestPipelineParams(t *testing.T) {
	p := &Pipeline{TriggerParameters: map[string]any{
		"s": " abc ", "n": float64(7), "t": true, "ts": "true", "one": "1", "f": false, "zero": float64(0), "nil": nil,
	}}
	for name, want := range map[string]string{"s": "abc", "n": "7", "t": "true", "nil": "", "missing": ""} {
		if got := p.StringParam(name); got != want {
			t.Errorf("StringParam(%s) = %q, want %q", name, got, want)
		}
	}
	for name, want := range map[string]bool{"t": true, "ts": true, "one": true, "n": true, "f": false, "zero": false, "s": false, "missing": false} {
		if got := p.BoolParam(name); got != want {
			t.Errorf("BoolParam(%s) = %v, want %v", name, got, want)
		}
	}
}
