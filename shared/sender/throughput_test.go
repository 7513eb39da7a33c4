package sender

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tucanlink/wacloud/local/graphsim"
	"github.com/tucanlink/wacloud/shared/throttle"
	"github.com/tucanlink/wacloud/shared/window"
)

// A 130429 one sender instance gets slows the number down for every
// instance: the next lease of another instance hands out half the rate.
func TestThrottledByMetaSlowsEveryInstance(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	seen, other := e.handler(t), e.handler(t)
	// The limiters' clock stands still, so the rate's recovery does not
	// depend on how long the test takes.
	frozen := time.UnixMicro(time.Now().UnixMicro()) // as the schedule record keeps it
	for _, h := range []*Handler{seen, other} {
		h.Numbers.(*throttle.Limiter).Now = func() time.Time { return frozen }
	}
	w := window.Store{API: e.ddb, Table: e.stack.Names.Ref["StateTable"]}
	job := func(i int) string {
		to := rcpt(t, fmt.Sprintf("%03d", 400+i))
		if err := w.RecordInbound(ctx, numberB, strings.TrimPrefix(to, "+"), time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		return to
	}
	to := job(1)
	e.sim.AddFault(graphsim.Fault{Code: 130429, To: to, Count: 1})
	j := textJob(jid(t, "meta-throttled-1"), to, "x")
	j.TenantID, j.PhoneNumberID = "other", numberB
	if failed := handle(t, seen, record(t, j, 1)); len(failed) != 1 {
		t.Fatalf("failed records %v, want the job retried", failed)
	}
	out, err := e.ddb.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.stack.Names.Ref["StateTable"]),
		Key: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: "rate#num#" + numberB}}, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := out.Item["slow"].(*ddbtypes.AttributeValueMemberN)
	at, _ := out.Item["slow_at"].(*ddbtypes.AttributeValueMemberN)
	if v == nil || v.Value != "500" || at == nil {
		t.Fatalf("schedule record's slow = %+v at %+v, want 500 (half the rate)", out.Item["slow"], out.Item["slow_at"])
	}
	// A run of this test less than a second earlier (go test -count) halved
	// it already: this one is not halved again, and recovers from then.
	us, _ := strconv.ParseInt(at.Value, 10, 64)
	want := 0.5 + throttle.DefaultRecovery*frozen.Sub(time.UnixMicro(us)).Seconds()
	e.coreEvents(t, j.JobID)

	j2 := textJob(jid(t, "meta-throttled-2"), job(2), "x")
	j2.TenantID, j2.PhoneNumberID = "other", numberB
	if failed := handle(t, other, record(t, j2, 1)); len(failed) != 0 {
		t.Fatalf("failed records %v", failed)
	}
	e.coreEvents(t, j2.JobID)
	if f := other.Numbers.(*throttle.Limiter).Stats(numberB).Factor; math.Abs(f-want) > 1e-9 || f > 0.6 {
		t.Errorf("the other instance paces number %s at %.3f of its rate, want %.3f (about half)", numberB, f, want)
	}
}
