package orb_test

import (
	"os"
	"testing"

	"github.com/pmguard/pmguard/orb/review"
)

// TestOrbToolsReview holds orb/src to orb-tools' review checks RC001-RC012
// (see package review), none excluded, at orb-tools' default command length.
// On a release tag (CIRCLE_TAG=vX.Y.Z) the examples must import that major
// version.
func TestOrbToolsReview(t *testing.T) {
	findings, err := review.Review(srcDir(t), review.Options{
		MaxCommandLength: review.DefaultMaxCommandLength,
		Orb:              "pmguard/pmguard",
		Tag:              os.Getenv("CIRCLE_TAG"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings {
		t.Error(f)
	}
}
