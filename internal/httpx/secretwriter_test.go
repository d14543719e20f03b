package httpx

import (
	"strings"
	"testing"
)

// SecretWriter removes the run's known secrets, and only those: pmguard's
// own help and examples keep their credential-shaped text.
func TestSecretWriter(t *testing.T) {
	r := NewRedactor()
	r.Add("s3cr3t-value-42")
	var out strings.Builder
	w := r.SecretWriter(&out)
	w.Write([]byte("token s3cr3t-"))
	w.Write([]byte("value-42 sent\nexample: Authorization: Bearer abc123def\nlast"))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "s3cr3t-value-42") || !strings.Contains(got, "token "+redacted+" sent\n") {
		t.Errorf("the known secret, split across writes, is not hidden: %q", got)
	}
	if !strings.Contains(got, "Authorization: Bearer abc123def\n") || !strings.HasSuffix(got, "last\n") {
		t.Errorf("text that only looks like a credential was changed, or the last line lost: %q", got)
	}
}
