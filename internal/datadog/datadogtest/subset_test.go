package datadogtest

import (
	"bytes"
	"flag"
	"os"
	"testing"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/testspecs"
)

var updateSubset = flag.Bool("update-subset", false, "rewrite datadog-api-v1.subset.json from testdata/specs")

func TestV1Subset(t *testing.T) {
	full, err := testspecs.Read("datadog-api-v1.openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := apitest.Subset(full, testspecs.Dir+"/datadog-api-v1.openapi.json", V1Paths)
	if err != nil {
		t.Fatal(err)
	}
	if *updateSubset {
		if err := os.WriteFile(V1Subset, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(want, v1Subset) {
		t.Fatal(V1Subset + " is not the subset of the vendored v1 file: go test ./internal/datadog/datadogtest -run TestV1Subset -update-subset")
	}
}
