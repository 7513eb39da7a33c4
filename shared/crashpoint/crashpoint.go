// Package crashpoint stops a function's process at a chosen point, as a
// crash, an out-of-memory kill or a Lambda timeout would, so that tests
// can check what a redelivery makes of the state left behind. It is off
// unless WACLOUD_CRASH_AT is set (the template never sets it); a point
// then costs one atomic load.
//
// WACLOUD_CRASH_AT="point:n[,point:n…]" ends the process with ExitCode
// the n-th time (counted from 1, per process) it reaches point. Points:
//
//	sender.before_pace     a job checked, before its pacing slot
//	sender.while_waiting   a job told to wait for its slot, before the wait
//	sender.after_request   the Graph request written, before Meta's answer is read
//	sender.after_answer    Meta accepted, before anything is recorded
//	sender.after_record    the job recorded sent, before its result is published
//	sender.after_results_pushed  a batch's results pushed to the core (those it took), before the rest are published
//	bridge.after_push      the core has the event, before the batch returns
//	inbound.after_publish  a record's events pushed to the core, before the event source deletes it
//	status.after_push      a status's events pushed to the core, before they are marked notified
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Env names the variable that arms crash points.
const Env = "WACLOUD_CRASH_AT"

// ExitCode is the status a crash point ends the process with.
const ExitCode = 86

var (
	once   sync.Once
	armed  atomic.Bool
	points map[string]*point
)

type point struct {
	at   int64
	hits atomic.Int64
}

func load() {
	v := os.Getenv(Env)
	if v == "" {
		return
	}
	ps, err := Parse(v)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashpoint:", err)
		os.Exit(2)
	}
	points = map[string]*point{}
	for name, n := range ps {
		points[name] = &point{at: int64(n)}
	}
	armed.Store(true)
}

// Parse reads a WACLOUD_CRASH_AT value: point name → the hit that crashes.
func Parse(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(v, ",") {
		name, n, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			n = "1"
		}
		at, err := strconv.Atoi(n)
		if name == "" || err != nil || at < 1 {
			return nil, fmt.Errorf("%s=%q: want point:n with n >= 1, comma-separated", Env, v)
		}
		out[name] = at
	}
	return out, nil
}

// Armed reports whether point may crash the process: callers that must
// prepare something to reach a point (a trace hook) ask first.
func Armed(name string) bool {
	once.Do(load)
	if !armed.Load() {
		return false
	}
	_, ok := points[name]
	return ok
}

// Hit counts a pass through point name and ends the process, at once and
// without running deferred calls or flushing anything, on the armed hit.
func Hit(name string) {
	once.Do(load)
	if !armed.Load() {
		return
	}
	p, ok := points[name]
	if !ok {
		return
	}
	if p.hits.Add(1) == p.at {
		fmt.Fprintf(os.Stderr, "crashpoint: %s reached (hit %d): exiting\n", name, p.at)
		os.Exit(ExitCode)
	}
}
