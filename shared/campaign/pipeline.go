package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tucanlink/wacloud/shared/fault"
	"github.com/tucanlink/wacloud/shared/outbound"
)

// DefaultWindow is how many rows a run checks at once (Runner.Window).
const DefaultWindow = 48

// What a row's checks decided.
const (
	rowQueue = iota + 1
	rowInvalid
	rowDuplicate
	rowSuppressed
	rowWait // the portfolio's limit holds it back
)

// errNotReached ends the checks of a row after an earlier row of the
// window failed or waited for capacity: the run stops before it, and the
// next run checks it again.
var errNotReached = errors.New("an earlier row stopped the run")

// pending is one row of the window: read in order, checked concurrently
// with the rows around it, taken in order.
type pending struct {
	row       Row
	recipient string // RecipientKey of its "to" column
	// done is closed when the checks are over; reserved when its turn at
	// the messaging limit is over (reserved, refused or not needed).
	done, reserved chan struct{}

	outcome  int
	problems []string
	job      outbound.Job
	body     []byte
	freeAt   time.Time
	err      error
}

// window checks rows concurrently, at most size at once, and hands them
// back in row order.
//
// Concurrency never changes what a row decides:
//   - a row whose recipient an earlier row of the window names claims it
//     only once that row's checks are over, so the first row naming a
//     recipient claims it, as one row after the other would;
//   - unless the tier is unlimited, capacity is reserved in row order
//     (each row after the row before it), so the limit refuses the first
//     row past the tier and no later row takes its place;
//   - once a row fails or is refused, later rows reserve nothing (their
//     claims, made for their own row, stand: claiming again for the same
//     row is true, so the next run decides them as this one would).
type window struct {
	ru *run
	// c is the campaign as the run started: the checks read it while
	// commits replace the run's copy.
	c     Campaign
	ctx   context.Context
	stop  func()
	wg    sync.WaitGroup
	size  int
	queue []*pending // in row order; queue[0] is the oldest
	last  *pending   // the row read last
	// latest is the last row of the window naming each recipient.
	latest map[string]*pending
	// stopAt is the first row that failed or was refused.
	stopAt atomic.Int64
}

func (ru *run) newWindow(ctx context.Context) *window {
	size := ru.Window
	if size <= 0 {
		size = DefaultWindow
	}
	w := &window{ru: ru, c: ru.c, size: size, latest: make(map[string]*pending, size)}
	w.ctx, w.stop = context.WithCancel(ctx)
	w.stopAt.Store(math.MaxInt64)
	return w
}

// full reports whether the window holds as many rows as it may.
func (w *window) full() bool { return len(w.queue) >= w.size }

func (w *window) empty() bool { return len(w.queue) == 0 }

// add starts the checks of row, the row after the last one added.
func (w *window) add(row Row) {
	p := &pending{row: row, recipient: RecipientKey(row.Columns[ColumnTo]), done: make(chan struct{}), reserved: make(chan struct{})}
	same, prev := w.latest[p.recipient], w.last
	w.latest[p.recipient] = p
	w.last = p
	w.queue = append(w.queue, p)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(p.done)
		w.check(p, prev, same)
	}()
}

// next waits for the oldest row's checks and takes it out of the window.
func (w *window) next() *pending {
	p := w.queue[0]
	w.queue[0] = nil
	w.queue = w.queue[1:]
	<-p.done
	if w.latest[p.recipient] == p {
		delete(w.latest, p.recipient)
	}
	return p
}

// close ends the checks still running (their rows are checked again by
// the next run) and waits for them.
func (w *window) close() {
	w.stop()
	w.wg.Wait()
}

func (w *window) stopped(n int64) {
	for {
		cur := w.stopAt.Load()
		if n >= cur || w.stopAt.CompareAndSwap(cur, n) {
			return
		}
	}
}

// await waits for ch, or for the run to end.
func (w *window) await(ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-w.ctx.Done():
		return fault.Retryable(fmt.Errorf("campaign %s: %w", w.c.ID, w.ctx.Err()))
	}
}

// check runs row p's checks: its job, its recipient's claim, the
// suppression list, then (after prev's turn) the messaging limit. same is
// the window's earlier row naming the same recipient, if any.
func (w *window) check(p, prev, same *pending) {
	ru, ctx, c := w.ru, w.ctx, w.c
	// A row passes the reservation turn on only after the row before
	// it, whether it reserved or needed nothing, and marks where the run
	// stops first, so no later row reserves past it.
	turned := false
	turn := func() error {
		turned = true
		if prev != nil {
			if err := w.await(prev.reserved); err != nil {
				return err
			}
		}
		if w.stopAt.Load() < p.row.N {
			return errNotReached
		}
		return nil
	}
	defer func() {
		if p.err != nil || p.outcome == rowWait {
			w.stopped(p.row.N)
		}
		if !turned && prev != nil {
			_ = w.await(prev.reserved)
		}
		select {
		case <-p.reserved:
		default:
			close(p.reserved)
		}
	}()
	job, problems := c.Job(p.row, ru.tpl)
	if len(problems) > 0 {
		p.outcome, p.problems = rowInvalid, problems
		return
	}
	recipient := RecipientKey(job.To)
	if same != nil {
		if p.err = w.await(same.done); p.err != nil {
			return
		}
		if w.stopAt.Load() < p.row.N {
			p.err = errNotReached
			return
		}
	}
	first, err := ru.Recipients.Claim(ctx, c.TenantID, c.ID, recipient, p.row.N)
	if err != nil {
		p.err = err
		return
	}
	if !first {
		p.outcome = rowDuplicate
		return
	}
	suppressed, err := ru.Suppressions.Suppressed(ctx, c.TenantID, recipient)
	if err != nil {
		p.err = err
		return
	}
	if suppressed {
		p.outcome = rowSuppressed
		return
	}
	// Capacity is reserved in row order, unless the tier is unlimited
	// (nothing is counted or refused then). An unreported tier is
	// reserved in order too: the sender reads it from Meta on its first
	// send, and the limit may refuse from then on.
	if st, err := ru.Capacity.State(ctx, ru.number.WABAID, ru.now()); err != nil || !st.Unlimited {
		if p.err = turn(); p.err != nil {
			return
		}
	} else if w.stopAt.Load() < p.row.N {
		p.err = errNotReached
		return
	}
	d, err := ru.Capacity.Reserve(ctx, ru.number.WABAID, recipient, ru.now())
	if err != nil {
		p.err = err
		return
	}
	if !d.OK() {
		p.outcome, p.freeAt = rowWait, d.FreeAt
		return
	}
	if turned {
		close(p.reserved)
	}
	body, err := json.Marshal(job)
	if err != nil {
		p.err = fault.PermanentErr(fmt.Errorf("encode job %s: %w", job.JobID, err))
		return
	}
	p.outcome, p.job, p.body = rowQueue, job, body
}
