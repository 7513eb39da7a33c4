package queue

import (
	"fmt"
	"strings"
	"time"
)

// EnvBackoff names the environment variable that replaces a function's
// retry backoff: "base,max" (Go durations, e.g. "1s,4s"), doubling from
// base up to max as Exponential. It exists for local runs, where an
// hours-long outage and the final dead-lettering (the queue's
// maxReceiveCount) can then be walked through in minutes; the template
// does not set it.
const EnvBackoff = "WACLOUD_RETRY_BACKOFF"

// BackoffFromEnv returns the backoff EnvBackoff gives, or def when it is
// unset. A malformed value is an error: a function must not start with
// a schedule other than the one asked for.
func BackoffFromEnv(getenv func(string) string, def Backoff) (Backoff, error) {
	v := strings.TrimSpace(getenv(EnvBackoff))
	if v == "" {
		return def, nil
	}
	b, m, ok := strings.Cut(v, ",")
	base, err1 := time.ParseDuration(strings.TrimSpace(b))
	maxd, err2 := time.ParseDuration(strings.TrimSpace(m))
	if !ok || err1 != nil || err2 != nil || base <= 0 || maxd < base {
		return nil, fmt.Errorf("%s=%q: want \"base,max\" with Go durations, 0 < base <= max (e.g. \"1s,4s\")", EnvBackoff, v)
	}
	return Exponential(base, maxd), nil
}
