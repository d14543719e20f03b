package dora

import "time"

// Band is a DORA performance level.
type Band string

// The performance levels of the 2024 Accelerate State of DevOps report, the
// latest DORA report that publishes levels (the 2025 report replaced them
// with per-metric distributions and team archetypes).
const (
	Elite  Band = "elite"
	High   Band = "high"
	Medium Band = "medium"
	Low    Band = "low"
	NoBand Band = "n/a"
)

// Source is the definition the bands follow, printed with every report.
const Source = "DORA, Accelerate State of DevOps Report 2024 (dora.dev/research/2024/dora-report), software delivery performance levels; " +
	"deployment rework rate per DORA's 2024/2025 metric definitions (dora.dev/guides/dora-metrics-four-keys), which publish no levels for it"

// The 2024 levels:
//
//	                      Elite                High                   Medium                 Low
//	deployment frequency  on demand (multiple  between once per day   between once per week  between once per month
//	                      deploys per day)     and once per week      and once per month     and once every 6 months
//	change lead time      less than one day    one day to one week    one week to one month  one month to six months
//	change fail rate      5%                   20%                    10%                    40%
//	failed deployment     less than one hour   less than one day      less than one day      one week to one month
//	recovery time
//
// The levels are clusters over all four metrics, so a single metric does not
// always order them (the 2024 High cluster's change fail rate, 20%, is worse
// than Medium's, 10%). pmguard gives each metric the best level whose
// published value it meets.

const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
)

// FrequencyBand classes deploys per day: more than one a day on average is
// on demand; at least weekly is High; at least monthly is Medium.
func FrequencyBand(perDay float64) Band {
	switch {
	case perDay >= 1:
		return Elite
	case perDay >= 1.0/7:
		return High
	case perDay >= 1.0/30:
		return Medium
	}
	return Low
}

// LeadTimeBand classes a median change lead time.
func LeadTimeBand(d time.Duration) Band {
	switch {
	case d < day:
		return Elite
	case d <= week:
		return High
	case d <= month:
		return Medium
	}
	return Low
}

// ChangeFailBand classes a change fail rate (0..1): at most 5% meets Elite,
// at most 20% High (Medium's 10% is met too, High is the better level), at
// most 40% Low; above is below every published level and shown as Low.
func ChangeFailBand(rate float64) Band {
	switch {
	case rate <= 0.05:
		return Elite
	case rate <= 0.20:
		return High
	}
	return Low
}

// RecoveryBand classes a median failed deployment recovery time: under an
// hour Elite, under a day High (Medium's level is the same), otherwise Low.
func RecoveryBand(d time.Duration) Band {
	switch {
	case d < time.Hour:
		return Elite
	case d < day:
		return High
	}
	return Low
}
