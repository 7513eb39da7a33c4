package sender

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// outbox gathers a batch's result events so they go out together at the
// end of the batch: pushed straight to the core (push), and what the core
// did not take published on the core events queue in one SendMessageBatch
// (flush), instead of one call per job. Nothing is lost by waiting: an
// event is only put in the outbox
// after the job's record holds its outcome (sent with the wamid, or
// failed), and when the final publish fails every job whose event was in
// it is reported as a batch item failure; its redelivery finds the record
// and publishes the result again (replay), deduplicated by event id. A
// crash before the publish is the same redelivery.
//
// Records of one message group append in the order they ran, so a
// contact's events keep their order. A rejected job (dead-lettered, no
// record to publish again from) cannot wait for the batch's end: its
// event goes out at once, together with, and after, the events of the
// same contact still waiting here (publishNow), so the core sees one
// contact's results in the order its jobs ran. It is safe for concurrent
// use.
type outbox struct {
	mu      sync.Mutex
	pending []pendingEvent
}

// pendingEvent is one result waiting for the batch's end.
type pendingEvent struct {
	msg   queue.Message
	id    string // SQS message id of the record it reports
	group string // that record's message group in the outbound queue
}

type outboxKey struct{}

// outboxEntry ties a record being handled to its batch's outbox.
type outboxEntry struct {
	box   *outbox
	msgID string
	group string
}

func withOutbox(ctx context.Context, box *outbox, msgID, group string) context.Context {
	return context.WithValue(ctx, outboxKey{}, outboxEntry{box: box, msgID: msgID, group: group})
}

// deferred puts m in the batch's outbox, if ctx has one.
func deferred(ctx context.Context, m queue.Message) bool {
	e, ok := ctx.Value(outboxKey{}).(outboxEntry)
	if !ok || e.box == nil {
		return false
	}
	if m.TraceHeader == "" {
		// Published at the batch's end: keep the record's trace.
		m.TraceHeader = tracing.FromContext(ctx)
	}
	e.box.mu.Lock()
	defer e.box.mu.Unlock()
	e.box.pending = append(e.box.pending, pendingEvent{msg: m, id: e.msgID, group: e.group})
	return true
}

// publishNow reports m at once, preceded by the events still waiting in
// ctx's outbox for the same contact: those of the same core events group
// or of records of the same outbound group. They are pushed straight to
// the core when core is not nil, one after another; from the first the
// core does not take, they are published on the core events queue
// instead. If that publish fails, the waiting events not reported go back
// in their place and the error is returned (m is not reported).
func publishNow(ctx context.Context, core CorePusher, within time.Duration, p Publisher, queueURL string, m queue.Message) error {
	e, ok := ctx.Value(outboxKey{}).(outboxEntry)
	if !ok || e.box == nil {
		_, msgs := pushInOrder(ctx, core, within, []queue.Message{m})
		if len(msgs) == 0 {
			return nil
		}
		return p.Publish(ctx, queueURL, msgs...)
	}
	b := e.box
	b.mu.Lock()
	defer b.mu.Unlock()
	var msgs []queue.Message
	var taken []int
	for i, pe := range b.pending {
		if pe.msg.GroupID == m.GroupID || (e.group != "" && pe.group == e.group) {
			msgs = append(msgs, pe.msg)
			taken = append(taken, i)
		}
	}
	n, rest := pushInOrder(ctx, core, within, append(msgs, m))
	if len(rest) > 0 {
		if err := p.Publish(ctx, queueURL, rest...); err != nil {
			taken = taken[:min(n, len(taken))] // the pushed ones leave; the rest stay
			for _, i := range slices.Backward(taken) {
				b.pending = slices.Delete(b.pending, i, i+1)
			}
			return err
		}
	}
	for _, i := range slices.Backward(taken) {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
	return nil
}

// pushInOrder pushes msgs to core one after another within `within`,
// stopping at the first the core does not take, and returns how many it
// pushed and the rest. With no core, nothing is pushed.
func pushInOrder(ctx context.Context, core CorePusher, within time.Duration, msgs []queue.Message) (int, []queue.Message) {
	if core == nil || within <= 0 {
		return 0, msgs
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	n, _ := pushPrefix(ctx, core, msgs)
	return n, msgs[n:]
}

// pushPrefix pushes msgs, core events queue messages, to the core one
// after another, each in its own trace (its job's) when it has one, as
// the bridge would push it, and stops at the first the core does not
// take: it returns how many it pushed, and that one's error.
func pushPrefix(ctx context.Context, core CorePusher, msgs []queue.Message) (int, error) {
	for i, m := range msgs {
		mctx := ctx
		if m.TraceHeader != "" {
			mctx = tracing.WithHeader(ctx, m.TraceHeader)
		}
		if err := core.Push(mctx, m.DedupID, m.Attributes["event-type"], []byte(m.Body)); err != nil {
			return i, err
		}
	}
	return len(msgs), nil
}

// flush publishes the gathered events. On error it returns the SQS message
// ids of the records whose results may not have been published.
func (b *outbox) flush(ctx context.Context, p Publisher, queueURL string) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil, nil
	}
	msgs := make([]queue.Message, len(b.pending))
	for i, pe := range b.pending {
		msgs[i] = pe.msg
	}
	if err := p.Publish(ctx, queueURL, msgs...); err != nil {
		ids := make([]string, len(b.pending))
		for i, pe := range b.pending {
			ids[i] = pe.id
		}
		return ids, err
	}
	return nil, nil
}

// CorePusher pushes one event to the core's events endpoint (core.Client).
type CorePusher interface {
	Push(ctx context.Context, eventID, eventType string, body []byte) error
}

// push hands the gathered events to the core directly, so that a result
// costs no queue hop: a contact's (a core events group's) one after
// another in the order they were gathered, stopped at its first failure,
// the contacts at once. The events the core took leave the outbox; a
// failed one and the rest of its contact's stay, in their order, for
// flush to publish on the core events queue, where the bridge retries
// them. A push that failed after the core took it is pushed once more by
// the bridge and dropped by the core's Idempotency-Key. It returns how
// many were pushed, and the failures joined.
func (b *outbox) push(ctx context.Context, core CorePusher) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	groups := map[string][]int{}
	var order []string
	for i, pe := range b.pending {
		if _, ok := groups[pe.msg.GroupID]; !ok {
			order = append(order, pe.msg.GroupID)
		}
		groups[pe.msg.GroupID] = append(groups[pe.msg.GroupID], i)
	}
	pushed := make([]bool, len(b.pending))
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for g, key := range order {
		wg.Go(func() {
			idx := groups[key]
			msgs := make([]queue.Message, len(idx))
			for j, i := range idx {
				msgs[j] = b.pending[i].msg
			}
			var n int
			n, errs[g] = pushPrefix(ctx, core, msgs)
			for _, i := range idx[:n] {
				pushed[i] = true
			}
		})
	}
	wg.Wait()
	left := b.pending[:0]
	n := 0
	for i, pe := range b.pending {
		if pushed[i] {
			n++
			continue
		}
		left = append(left, pe)
	}
	clear(b.pending[len(left):])
	b.pending = left
	return n, errors.Join(errs...)
}
