package sender

import (
	"context"
	"slices"
	"sync"

	"github.com/tucanlink/wacloud/shared/queue"
	"github.com/tucanlink/wacloud/shared/tracing"
)

// outbox gathers a batch's result events so they go to the core events
// queue in one SendMessageBatch at the end of the batch instead of one call
// per job. Nothing is lost by waiting: an event is only put in the outbox
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

// publishNow publishes m at once, preceded by the events still waiting in
// ctx's outbox for the same contact: those of the same core events group
// or of records of the same outbound group. If the publish fails they go
// back in their place, and the error is returned (m is not published).
func publishNow(ctx context.Context, p Publisher, queueURL string, m queue.Message) error {
	e, ok := ctx.Value(outboxKey{}).(outboxEntry)
	if !ok || e.box == nil {
		return p.Publish(ctx, queueURL, m)
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
	if err := p.Publish(ctx, queueURL, append(msgs, m)...); err != nil {
		return err
	}
	for _, i := range slices.Backward(taken) {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
	return nil
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
