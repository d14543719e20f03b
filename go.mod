module github.com/pmguard/pmguard

go 1.26.0

require (
	github.com/hashicorp/go-retryablehttp v0.7.8
	github.com/sethvargo/go-envconfig v1.4.3
)

require (
	github.com/hashicorp/go-cleanhttp v0.5.2 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
