package sender

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/tucanlink/wacloud/shared/event"
	"github.com/tucanlink/wacloud/shared/throttle"
)

// crashingLimiter stops the goroutine handling a job while it waits for
// its number's pacing slot, as a crash or a timeout of the invocation
// would: nothing after it runs, nothing is released.
type crashingLimiter struct{ NumberLimiter }

func (crashingLimiter) WaitLead(context.Context, string, int, throttle.Lane, time.Duration) (time.Duration, error) {
	runtime.Goexit()
	return 0, nil
}

// TestCrashWhileWaitingForPacing: an attempt that died while the job
// waited for its pacing slot never wrote a request; the redelivery, even
// after any lease would have expired, sends it normally instead of
// reporting outcome_unknown.
func TestCrashWhileWaitingForPacing(t *testing.T) {
	e := testEnv(t)
	to := rcpt(t, "+5511977770070")
	e.openWindow(t, to)
	id := jid(t, "crash-wait")
	rec := record(t, textJob(id, to, "once"), 1)

	crashed := e.handler(t)
	crashed.Numbers = crashingLimiter{crashed.Numbers}
	handle(t, crashed, rec)
	if got := len(e.simFor(to)); got != 0 {
		t.Fatalf("sent %d before the crash, want 0", got)
	}

	later := func() time.Time { return time.Now().Add(DefaultLease + time.Minute) }
	h := e.handler(t)
	h.Jobs.Now, h.Now = later, later
	rec.Attributes["ApproximateReceiveCount"] = "2"
	if failed := handle(t, h, rec); len(failed) != 0 {
		t.Fatalf("redelivery failed: %v", failed)
	}
	if got := len(e.simFor(to)); got != 1 {
		t.Fatalf("sent %d times, want 1", got)
	}
	evs := e.coreEvents(t, id)
	if len(evs) != 1 || evs[0].Type != event.TypeOutboundAccepted {
		t.Errorf("events %+v, want one outbound.accepted", evs)
	}
}
