package fifoqueue

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The benchmark's judgement of order and duplicates is only as good as its
// dispatcher's FIFO semantics; these pin them.
func TestFIFODispatcher(t *testing.T) {
	ids := func(ms []Message) string {
		var b []string
		for _, m := range ms {
			b = append(b, m.ID)
		}
		return strings.Join(b, " ")
	}
	receipts := func(ms []Message) []string {
		var r []string
		for _, m := range ms {
			r = append(r, m.Receipt)
		}
		return r
	}
	load := func() *Queue {
		q := New()
		// Groups a (3 messages), b (1), c (2), pushed interleaved: a is the
		// oldest group, then b, then c.
		for _, m := range []struct{ id, group string }{{"a1", "a"}, {"b1", "b"}, {"a2", "a"}, {"c1", "c"}, {"a3", "a"}, {"c2", "c"}} {
			q.Push(&Message{ID: m.id, Body: m.id, Group: m.group})
		}
		return q
	}

	t.Run("groups oldest first, each group's messages in order", func(t *testing.T) {
		q := load()
		if got := ids(q.Receive(10)); got != "a1 a2 a3 b1 c1 c2" {
			t.Errorf("batch %q", got)
		}
	})

	t.Run("batch size bounds a batch, even within a group", func(t *testing.T) {
		q := load()
		if got := ids(q.Receive(2)); got != "a1 a2" {
			t.Errorf("batch %q", got)
		}
		// a is in flight (a3 too is held back); b and c are free.
		if got := ids(q.Receive(10)); got != "b1 c1 c2" {
			t.Errorf("second batch %q", got)
		}
	})

	t.Run("a group in flight is not served until its batch completes", func(t *testing.T) {
		q := load()
		first := q.Receive(1)
		if got := ids(first); got != "a1" {
			t.Fatalf("batch %q", got)
		}
		if got := ids(q.Receive(10)); strings.Contains(got, "a") {
			t.Errorf("group a served while in flight: %q", got)
		}
		q.Complete(receipts(first), nil)
		if got := ids(q.Receive(10)); got != "a2 a3" {
			t.Errorf("after completion %q", got)
		}
	})

	t.Run("a failed record comes back after its visibility, counted", func(t *testing.T) {
		q := load()
		batch := q.Receive(1)
		q.SetVisibility(batch[0].Receipt, time.Hour)
		q.Complete(receipts(batch), map[string]bool{"a1": true})
		if got := ids(q.Receive(10)); strings.Contains(got, "a") {
			t.Errorf("group a served before its failed head is visible: %q", got)
		}
		q2 := load()
		batch = q2.Receive(1)
		q2.Complete(receipts(batch), map[string]bool{"a1": true}) // visible again at once
		again := q2.Receive(1)
		if len(again) != 1 || again[0].ID != "a1" || again[0].Receives != 2 || q2.Redeliveries() != 1 {
			t.Errorf("redelivery %+v, redeliveries %d", again, q2.Redeliveries())
		}
	})

	t.Run("successes are deleted and the queue drains", func(t *testing.T) {
		q := load()
		for i := 0; !q.Finished(); i++ {
			if i > 10 {
				t.Fatalf("queue did not drain: %d left", q.Left())
			}
			b := q.Receive(10)
			q.Complete(receipts(b), nil)
		}
		if got := q.Receive(10); len(got) != 0 {
			t.Errorf("drained queue handed out %v", got)
		}
		if n := q.Redeliveries(); n != 0 {
			t.Errorf("redeliveries %d, want 0", n)
		}
	})

	t.Run("receipts are unique per receive", func(t *testing.T) {
		q := load()
		seen := map[string]bool{}
		for round := 0; round < 3; round++ {
			b := q.Receive(10)
			for _, m := range b {
				if seen[m.Receipt] {
					t.Fatalf("receipt %s handed out twice", m.Receipt)
				}
				seen[m.Receipt] = true
			}
			failed := map[string]bool{}
			for _, m := range b {
				failed[m.ID] = round < 2
			}
			q.Complete(receipts(b), failed)
		}
		if q.Left() != 0 {
			t.Errorf("%d left after the last round succeeded", q.Left())
		}
	})

	t.Run("groups put off are passed over, then come back oldest first", func(t *testing.T) {
		// The queue's own clock: however long the 500 receives take on a
		// loaded machine, no group comes back before the clock moves.
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
		q := New()
		q.Now = func() time.Time { return now }
		for i := 0; i < 5000; i++ {
			q.Push(&Message{ID: fmt.Sprintf("x%d", i), Group: fmt.Sprintf("g%d", i)})
		}
		for {
			b := q.Receive(10)
			if len(b) == 0 {
				break
			}
			failed := map[string]bool{}
			for _, m := range b {
				q.SetVisibility(m.Receipt, 50*time.Millisecond)
				failed[m.ID] = true
			}
			q.Complete(receipts(b), failed)
		}
		q.Push(&Message{ID: "probe", Group: "p"})
		if got := ids(q.Receive(10)); got != "probe" {
			t.Fatalf("with every older group put off, batch %q, want the probe", got)
		}
		now = now.Add(60 * time.Millisecond)
		if got := ids(q.Receive(3)); got != "x0 x1 x2" {
			t.Errorf("once visible again, batch %q, want the oldest groups", got)
		}
		if q.Left() != 5001 || q.Redeliveries() != 3 {
			t.Errorf("left %d, redeliveries %d", q.Left(), q.Redeliveries())
		}
	})
}
