package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress shows how far a long operation is, on one rewritten line of
// stderr, only when stderr is a terminal (never in a pipe, a log or a
// test's buffer unless Main.Terminal says so). At most every interval.
type progress struct {
	w        io.Writer
	on       bool
	what     string
	interval time.Duration
	last     time.Time
	shown    bool
}

func (a *app) progress(what string) *progress {
	on := false
	if a.Terminal != nil {
		on = a.Terminal(a.Stderr)
	} else if f, ok := a.Stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil {
			on = st.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: a.Stderr, on: on, what: what, interval: 200 * time.Millisecond}
}

// Update shows done of total (total 0: unknown).
func (p *progress) Update(done, total int) {
	if !p.on {
		return
	}
	now := time.Now()
	if p.shown && now.Sub(p.last) < p.interval && done != total {
		return
	}
	p.last, p.shown = now, true
	if total > 0 {
		fmt.Fprintf(p.w, "\r%s: %d/%d (%d%%)\033[K", p.what, done, total, done*100/total)
		return
	}
	fmt.Fprintf(p.w, "\r%s: %d\033[K", p.what, done)
}

// Done ends the progress line, so what follows starts on a line of its own.
func (p *progress) Done() {
	if p.on && p.shown {
		fmt.Fprintln(p.w)
	}
}
